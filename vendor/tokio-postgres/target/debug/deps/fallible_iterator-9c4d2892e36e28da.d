/work/main/vendor/tokio-postgres/target/debug/deps/fallible_iterator-9c4d2892e36e28da.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/fallible-iterator-0.2.0/src/lib.rs

/work/main/vendor/tokio-postgres/target/debug/deps/libfallible_iterator-9c4d2892e36e28da.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/fallible-iterator-0.2.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/fallible-iterator-0.2.0/src/lib.rs:
