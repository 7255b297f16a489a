//! libpq's password file (`~/.pgpass`, or the `passfile` setting / PGPASSFILE): the password
//! of the first line whose host, port, database and user match, `*` matching anything.

use std::path::Path;

/// The password for this address in the file's `contents`, by libpq's rules: lines
/// `host:port:database:user:password`, `\` escaping `:` and `\`, `#` starting a comment, and a
/// Unix socket directory matched as `localhost`.
pub(super) fn lookup(contents: &str, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let host = if host.starts_with('/') || host.is_empty() { "localhost" } else { host };
    let port = port.to_string();
    let wanted = [host, port.as_str(), database, user];
    contents.lines().filter(|l| !l.trim_start().starts_with('#')).find_map(|line| {
        let fields = split(line);
        let [h, p, d, u, password] = <[String; 5]>::try_from(fields).ok()?;
        let matches = [h, p, d, u].iter().zip(wanted).all(|(field, want)| field == "*" || field == want);
        matches.then_some(password)
    })
}

/// The five fields of a line, unescaped (any other count is not a valid line).
fn split(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut chars) = (Vec::new(), String::new(), line.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Reads the password file at `path`. A missing file is no password; a file others may read is
/// ignored with a warning, as libpq does.
pub(super) fn read(path: &Path) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "password file {} has group or world access; permissions should be u=rw (0600) or less: ignored",
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(std::fs::read_to_string(path).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# comment\n\
        db.internal:5432:app:alice:s3cret\n\
        *:*:*:bob:b\\:pw\n\
        localhost:*:*:*:local\n";

    #[test]
    fn first_matching_line_wins() {
        assert_eq!(lookup(FILE, "db.internal", 5432, "app", "alice").as_deref(), Some("s3cret"));
        assert_eq!(lookup(FILE, "db.internal", 5433, "app", "alice"), None);
        assert_eq!(lookup(FILE, "anywhere", 1, "x", "bob").as_deref(), Some("b:pw"));
        assert_eq!(lookup(FILE, "/var/run/postgresql", 5432, "x", "carol").as_deref(), Some("local"));
        assert_eq!(lookup("h:1:d:u\n", "h", 1, "d", "u"), None, "four fields is not a line");
    }
}
