/work/main/vendor/tokio-postgres/target/debug/deps/smallvec-505bc8aba4c9d652.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs

/work/main/vendor/tokio-postgres/target/debug/deps/libsmallvec-505bc8aba4c9d652.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/smallvec-1.16.6/src/lib.rs:
