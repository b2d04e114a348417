//! Test support shared by the test binaries and the benchmark. Each binary
//! uses part of it.
#![allow(dead_code)]

pub mod mariadb;
pub mod records;
pub mod scenarios;
