//! Tells the test suite whether a PostgreSQL server was given: with `LEARNGRAPH_TEST_POSTGRES_URL`
//! set, the PostgreSQL variant of every integration test runs; without it, they are reported as
//! ignored rather than as passes (see `on_each_backend!` in tests/api/common.rs).

fn main() {
    println!("cargo::rerun-if-env-changed=LEARNGRAPH_TEST_POSTGRES_URL");
    println!("cargo::rustc-check-cfg=cfg(learngraph_pg)");
    if std::env::var("LEARNGRAPH_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=learngraph_pg");
    }
}
