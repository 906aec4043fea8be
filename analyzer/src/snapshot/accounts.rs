//! The node's `/etc/passwd` and `/etc/group`: uid and gid to name, without NSS.

use std::collections::BTreeMap;

use rhf_format::{Accounts, RawFile};

/// Names of users and groups as the node's own files give them.
#[derive(Debug, Clone, Default)]
pub struct AccountDb {
    pub users: BTreeMap<u32, Vec<u8>>,
    pub groups: BTreeMap<u32, Vec<u8>>,
    pub notes: Vec<String>,
}

impl AccountDb {
    pub fn from_record(a: &Accounts) -> AccountDb {
        let mut notes = Vec::new();
        let users = parse_db(&a.passwd, "passwd", &mut notes);
        let groups = parse_db(&a.group, "group", &mut notes);
        AccountDb {
            users,
            groups,
            notes,
        }
    }

    pub fn user(&self, uid: u32) -> Option<&[u8]> {
        self.users.get(&uid).map(Vec::as_slice)
    }

    pub fn group(&self, gid: u32) -> Option<&[u8]> {
        self.groups.get(&gid).map(Vec::as_slice)
    }
}

/// `name:password:id:...` lines: the third field is the uid (passwd) or gid (group). The
/// first line for an id wins, as with `getpwuid`. NIS `+`/`-` lines and comments are skipped.
fn parse_db(file: &RawFile, what: &str, notes: &mut Vec<String>) -> BTreeMap<u32, Vec<u8>> {
    if let Some(e) = &file.error {
        notes.push(format!("{what}: {e}"));
    }
    if file.truncated {
        notes.push(format!("{what}: cut at the recorder's cap"));
    }
    let mut db = BTreeMap::new();
    let mut bad = 0usize;
    for line in file.content.split(|b| *b == b'\n') {
        if line.is_empty() || matches!(line[0], b'#' | b'+' | b'-') {
            continue;
        }
        let mut fields = line.split(|b| *b == b':');
        let name = fields.next().unwrap_or_default();
        let id = fields
            .nth(1)
            .and_then(|f| std::str::from_utf8(f).ok())
            .and_then(|f| f.parse::<u32>().ok());
        match id {
            Some(id) if !name.is_empty() => {
                db.entry(id).or_insert_with(|| name.to_vec());
            }
            _ => bad += 1,
        }
    }
    if bad > 0 {
        notes.push(format!("{what}: {bad} malformed line(s) skipped"));
    }
    db
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhf_format::Bytes;

    #[test]
    fn ids_resolve_and_bad_lines_are_counted() {
        let a = Accounts {
            passwd: RawFile {
                name: "/etc/passwd".into(),
                content: Bytes::from(
                    b"root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n\
                      # comment\nbroken\ntoor:x:0:0::/:/bin/sh\n+nis::::\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash"
                        .to_vec(),
                ),
                ..RawFile::default()
            },
            group: RawFile {
                name: "/etc/group".into(),
                error: Some("No such file or directory (os error 2)".into()),
                ..RawFile::default()
            },
        };
        let db = AccountDb::from_record(&a);
        assert_eq!(db.user(0), Some(&b"root"[..]));
        assert_eq!(db.user(1000), Some(&b"alice"[..]));
        assert_eq!(db.user(33), Some(&b"www-data"[..]));
        assert_eq!(db.user(5), None);
        assert_eq!(db.group(0), None);
        assert_eq!(db.notes.len(), 2, "{:?}", db.notes);
    }
}
