//! Sealing and opening: round trips at every chunk boundary, keys as text, what must not open, and the age tool both ways.

use std::process::{Command, Stdio};

use super::*;

fn seal(recipient: &Recipient, data: &[u8]) -> Vec<u8> {
    let mut sealer = Sealer::new(recipient, Vec::new()).expect("header");
    // In odd pieces, as a stream arrives.
    for piece in data.chunks(7_001) {
        sealer.write_all(piece).expect("write");
    }
    sealer.finish().expect("finish")
}

fn open(identity: &Identity, sealed: &[u8]) -> Result<Vec<u8>, String> {
    let mut opener = Opener::new(identity, sealed).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    opener.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn what_is_sealed_opens_whole_at_every_chunk_boundary() {
    let key = Identity::generate();
    for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5] {
        let plain = data(len);
        let sealed = seal(&key.recipient(), &plain);
        assert_eq!(
            open(&key, &sealed).as_deref(),
            Ok(&plain[..]),
            "{len} bytes"
        );
    }
}

#[test]
fn keys_read_back_as_written() {
    let key = Identity::generate();
    let secret = key.to_secret_string();
    assert!(secret.starts_with("AGE-SECRET-KEY-1"), "{secret}");
    let again = Identity::parse(&format!("# created: today\n# public key: x\n{secret}\n"))
        .expect("a key file");
    assert_eq!(again.recipient(), key.recipient());
    let public = key.recipient().to_string();
    assert!(public.starts_with("age1") && public.len() == 62, "{public}");
    assert_eq!(Recipient::parse(&public).expect("parse"), key.recipient());
    assert!(matches!(
        Recipient::parse("age1notakey"),
        Err(AgeError::Recipient(_))
    ));
    assert!(matches!(Identity::parse(&public), Err(AgeError::Identity)));
    assert!(
        !format!("{key:?}").contains(&secret[16..]),
        "Debug hides it"
    );
}

#[test]
fn another_key_a_changed_byte_or_a_cut_end_do_not_open() {
    let key = Identity::generate();
    let plain = data(2 * CHUNK + 100);
    let sealed = seal(&key.recipient(), &plain);

    let other = Identity::generate();
    let e = open(&other, &sealed).unwrap_err();
    assert!(e.contains("sealed to another key"), "{e}");

    let mut flipped = sealed.clone();
    let at = sealed.len() - 50_000;
    flipped[at] ^= 1;
    let e = open(&key, &flipped).unwrap_err();
    assert!(e.contains("damaged"), "{e}");

    // Cut after the first full chunk: that chunk is not marked last, so it does not open
    // as if the data ended there.
    let header = sealed.len() - (2 * (CHUNK + TAG) + 100 + TAG);
    let cut = &sealed[..header + CHUNK + TAG];
    let e = open(&key, cut).unwrap_err();
    assert!(e.contains("cut short"), "{e}");

    let mut header_changed = sealed.clone();
    // The share's first base64 character, in the recipient line.
    let at = sealed
        .windows(9)
        .position(|w| w == b"-> X25519")
        .expect("stanza")
        + 10;
    header_changed[at] = if sealed[at] == b'A' { b'B' } else { b'A' };
    assert!(open(&key, &header_changed).is_err());

    let e = open(&key, b"not sealed at all\n").unwrap_err();
    assert!(e.contains("age-encryption.org/v1"), "{e}");
}

/// Berth's files open with the `age` tool and the tool's with Berth: users' backups never
/// depend on Berth to be read. (Debian's `age`, installed by scripts/setup.sh.)
#[test]
fn the_age_tool_opens_what_berth_seals_and_the_reverse() {
    let age = Command::new("age").arg("--version").output();
    assert!(
        age.is_ok_and(|o| o.status.success()),
        "the `age` tool is missing: run scripts/setup.sh (Debian package age)"
    );
    let dir = std::env::temp_dir().join(format!("berth-age-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = Identity::generate();
    let key_file = dir.join("key.txt");
    std::fs::write(&key_file, format!("{}\n", key.to_secret_string())).expect("key");
    let plain = data(CHUNK * 2 + 17);

    let sealed_file = dir.join("ours.age");
    std::fs::write(&sealed_file, seal(&key.recipient(), &plain)).expect("sealed");
    let opened = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key_file)
        .arg(&sealed_file)
        .output()
        .expect("age -d");
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    assert!(opened.stdout == plain, "age opened Berth's file whole");

    let mut theirs = Command::new("age")
        .arg("-r")
        .arg(key.recipient().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("age -r");
    let mut stdin = theirs.stdin.take().expect("stdin");
    let input = plain.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let sealed = theirs.wait_with_output().expect("age output");
    writer.join().expect("writer").expect("write");
    assert!(sealed.status.success());
    assert!(
        open(&key, &sealed.stdout) == Ok(plain),
        "Berth opened age's file whole"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
