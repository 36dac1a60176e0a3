/* The floor for "CPU per query at a fixed rate" (bench/run): splitdns's UDP loop with no DNS work.
 * It blocks in recvmmsg for up to 32 queued datagrams, turns each into a response by setting QR
 * and RCODE=REFUSED in place, and sends the batch back with one sendmmsg: the same system calls,
 * wake-ups and loopback deliveries a server pays per query, and nothing else.
 *
 *   cc -O2 -o udp_floor bench/udp_floor.c && ./udp_floor 127.0.0.1 5405
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { BATCH = 32, MAX_DATAGRAM = 65535 };

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDRESS PORT\n", argv[0]);
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "bad IPv4 address: %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("bind");
        return 1;
    }
    static unsigned char buffers[BATCH][MAX_DATAGRAM];
    static struct sockaddr_storage peers[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr messages[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = buffers[i], .iov_len = MAX_DATAGRAM};
            memset(&messages[i], 0, sizeof messages[i]);
            messages[i].msg_hdr.msg_name = &peers[i];
            messages[i].msg_hdr.msg_namelen = sizeof peers[i];
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        int received = recvmmsg(fd, messages, BATCH, MSG_WAITFORONE, NULL);
        if (received <= 0)
            continue;
        for (int i = 0; i < received; i++) {
            unsigned len = messages[i].msg_len;
            if (len >= 12) {
                buffers[i][2] |= 0x80;                          /* QR */
                buffers[i][3] = (buffers[i][3] & 0xf0) | 5;     /* REFUSED */
            }
            iov[i].iov_len = len;
        }
        for (int sent = 0; sent < received;) {
            int n = sendmmsg(fd, messages + sent, received - sent, 0);
            sent += n > 0 ? n : 1;
        }
    }
}
