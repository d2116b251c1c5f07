//! Client-side tools, read only: `check` (a test send through a relay),
//! `bench` (a load generator) and `show` (a tape for people). What a reply
//! means is `resend::explain`.

pub mod bench;
pub mod check;
pub mod show;
