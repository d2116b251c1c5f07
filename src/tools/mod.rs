//! Client-side tools, read only: `check` (a test send through a relay),
//! `bench` (a load generator), `show` (a tape for people) and `explain`
//! (what a reply means).

pub mod bench;
pub mod check;
pub mod show;
