/work/main/vendor/tokio-postgres/target/debug/deps/unicode_properties-820507f63b0569e0.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/unicode-properties-0.1.5/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/unicode-properties-0.1.5/src/tables.rs

/work/main/vendor/tokio-postgres/target/debug/deps/libunicode_properties-820507f63b0569e0.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/unicode-properties-0.1.5/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/unicode-properties-0.1.5/src/tables.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/unicode-properties-0.1.5/src/lib.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/unicode-properties-0.1.5/src/tables.rs:
