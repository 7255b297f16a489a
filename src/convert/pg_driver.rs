//! Which columns pg's style (`pgwarden/pg`) decodes here, and which it leaves to pg's parsers.
//!
//! pg reads every value as the server's text and runs a parser per type (pg-types, or one set
//! with `types.setTypeParser`). A value decoded here is used as is only where it equals what
//! pg's default parser gives; every other column is asked for in text format and handed over
//! as the server's own text, so a parser sees exactly what it sees under pg (microseconds,
//! the session's TimeZone, jsonb's spacing).

use super::{decodes_binary, Style};
use postgres_types::Type;

/// The types whose value here equals pg's default parse (ints, floats, bool, int8 as a string,
/// json, bytea, text-like, time, numeric, uuid; their arrays; timestamptz as a Date). JS reads
/// this list (`pgDecodedTypes()`), and marks by position the ones it has its own parser for.
pub(crate) const PG_DECODED: [u32; 46] = [
    16, 17, 20, 21, 23, 26, 114, 700, 701, 3802, 18, 19, 25, 142, 650, 774, 829, 869, 1042, 1043, 1083, 1266, 1700,
    2950, 1000, 1001, 1005, 1007, 1008, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1040, 1041, 651, 2951, 199, 3807,
    1183, 1270, 791, 1184,
];

/// Whether a column of `ty` is asked for in binary format and decoded here (else: the
/// server's text, passed on). In pg's style only the [`PG_DECODED`] types are, less those
/// whose bit is set in `text_types` (types with a parser of the caller's own).
pub(crate) fn decoded_here(ty: &Type, style: Style) -> bool {
    match style {
        Style::PgDriver { text_types } => {
            decodes_binary(ty)
                && PG_DECODED.iter().position(|&oid| oid == ty.oid()).is_some_and(|i| text_types & (1 << i) == 0)
        }
        _ => decodes_binary(ty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: Style = Style::PgDriver { text_types: 0 };

    #[test]
    fn pg_style_decodes_only_what_pg_parses_the_same() {
        assert!(decoded_here(&Type::INT4, PG));
        assert!(decoded_here(&Type::TIMESTAMPTZ, PG));
        assert!(decoded_here(&Type::JSONB, PG));
        assert!(!decoded_here(&Type::TIMESTAMP, PG));
        assert!(!decoded_here(&Type::DATE, PG));
        assert!(!decoded_here(&Type::TIMESTAMPTZ_ARRAY, PG));
        assert!(!decoded_here(&Type::INTERVAL, PG));
        assert!(decoded_here(&Type::TIMESTAMP, Style::Pg));
    }

    #[test]
    fn a_type_with_its_own_parser_comes_as_text() {
        let int8 = PG_DECODED.iter().position(|&o| o == Type::INT8.oid()).map(|i| 1u64 << i).unwrap_or(0);
        assert!(!decoded_here(&Type::INT8, Style::PgDriver { text_types: int8 }));
        assert!(decoded_here(&Type::INT4, Style::PgDriver { text_types: int8 }));
    }

    #[test]
    fn the_list_fits_the_mask_and_js_numbers() {
        assert!(PG_DECODED.len() <= 53);
    }
}
