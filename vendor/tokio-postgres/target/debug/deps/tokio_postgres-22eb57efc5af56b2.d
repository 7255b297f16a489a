/work/main/vendor/tokio-postgres/target/debug/deps/tokio_postgres-22eb57efc5af56b2.d: src/lib.rs src/binary_copy.rs src/bind.rs src/cancel_query.rs src/cancel_query_raw.rs src/cancel_token.rs src/client.rs src/codec.rs src/config.rs src/connect.rs src/connect_raw.rs src/connect_socket.rs src/connect_tls.rs src/connection.rs src/copy_in.rs src/copy_out.rs src/error/mod.rs src/error/sqlstate.rs src/generic_client.rs src/keepalive.rs src/maybe_tls_stream.rs src/portal.rs src/prepare.rs src/query.rs src/row.rs src/simple_query.rs src/socket.rs src/statement.rs src/tls.rs src/to_statement.rs src/transaction.rs src/transaction_builder.rs src/types.rs

/work/main/vendor/tokio-postgres/target/debug/deps/libtokio_postgres-22eb57efc5af56b2.rmeta: src/lib.rs src/binary_copy.rs src/bind.rs src/cancel_query.rs src/cancel_query_raw.rs src/cancel_token.rs src/client.rs src/codec.rs src/config.rs src/connect.rs src/connect_raw.rs src/connect_socket.rs src/connect_tls.rs src/connection.rs src/copy_in.rs src/copy_out.rs src/error/mod.rs src/error/sqlstate.rs src/generic_client.rs src/keepalive.rs src/maybe_tls_stream.rs src/portal.rs src/prepare.rs src/query.rs src/row.rs src/simple_query.rs src/socket.rs src/statement.rs src/tls.rs src/to_statement.rs src/transaction.rs src/transaction_builder.rs src/types.rs

src/lib.rs:
src/binary_copy.rs:
src/bind.rs:
src/cancel_query.rs:
src/cancel_query_raw.rs:
src/cancel_token.rs:
src/client.rs:
src/codec.rs:
src/config.rs:
src/connect.rs:
src/connect_raw.rs:
src/connect_socket.rs:
src/connect_tls.rs:
src/connection.rs:
src/copy_in.rs:
src/copy_out.rs:
src/error/mod.rs:
src/error/sqlstate.rs:
src/generic_client.rs:
src/keepalive.rs:
src/maybe_tls_stream.rs:
src/portal.rs:
src/prepare.rs:
src/query.rs:
src/row.rs:
src/simple_query.rs:
src/socket.rs:
src/statement.rs:
src/tls.rs:
src/to_statement.rs:
src/transaction.rs:
src/transaction_builder.rs:
src/types.rs:
