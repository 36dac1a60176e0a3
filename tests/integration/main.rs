//! The integration tests: the real server on an ephemeral loopback port, queried over UDP and
//! TCP from 127.0.0.2 (the internal view) and 127.0.0.3 (the external view), and the real binary
//! fed broken configs. Scenario tables live in the modules; the harness in `common`.

mod answers;
mod bad_input;
mod common;
mod compiled;
mod config_search;
mod control;
mod dane;
mod diff_exit;
mod differential;
mod dnssec;
mod dnssec_keys;
mod dnssec_rollover;
mod dnssec_secondaries;
mod dot;
mod encoding;
mod exchange;
mod forward;
mod hardening;
mod health;
mod held_back;
mod layers;
mod listen;
mod packaging;
mod page;
mod reload;
mod secondaries;
mod secondary_keys;
mod serials;
mod srv_no_service;
mod startup;
mod transfer;
mod transport;
mod views;
