//! Placeholder until the delivery benchmark lands.
fn main() {}
