//! Parameters, JavaScript → PostgreSQL.
//!
//! The JS layer (`lib/params.js`) turns each value into PostgreSQL's text input form (or null),
//! as `pg` does; here they are sent as text-format parameters whose type the server infers, so
//! a string works for any column type and nothing is ever interpolated into the SQL.

use bytes::BytesMut;
use postgres_types::{to_sql_checked, Format, IsNull, ToSql, Type};

/// One parameter in PostgreSQL's text input form; `None` is NULL.
#[derive(Debug, Clone)]
pub(crate) struct TextParam(pub Option<String>);

impl ToSql for TextParam {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// Wraps the JS values for the driver.
pub(crate) fn text_params(values: Vec<Option<String>>) -> Vec<TextParam> {
    values.into_iter().map(TextParam).collect()
}
