//! Backups sealed to a key, in the [age] format (`age-encryption.org/v1`) with X25519
//! recipients: a file Berth encrypts can be opened by the `age` command-line tool with the
//! same key, and the reverse — a user's backups never depend on Berth to be read.
//!
//! Only the public half (the recipient, `age1…`) is needed to seal: a server's relay seals
//! scheduled backups without ever holding the key that opens them. The secret half (the
//! identity, `AGE-SECRET-KEY-1…`) stays in the keychain of the machines that restore.
//!
//! Both directions stream: [`Sealer`] is a [`Write`] that encrypts 64 KiB chunks as they fill,
//! [`Opener`] a [`Read`] that authenticates each chunk before it hands it out — a damaged or
//! truncated file is an error, never silently short data.
//!
//! [age]: https://age-encryption.org/v1

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::Mac;
use x25519_dalek::{PublicKey, StaticSecret};

const VERSION_LINE: &[u8] = b"age-encryption.org/v1";
const X25519_INFO: &[u8] = b"age-encryption.org/v1/X25519";
const RECIPIENT_HRP: &str = "age";
const IDENTITY_HRP: &str = "AGE-SECRET-KEY-";
/// Plaintext bytes per payload chunk.
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// A header longer than this is not one Berth (or age) wrote.
const MAX_HEADER: usize = 64 * 1024;

/// What went wrong reading a key or opening a sealed file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgeError {
    #[error("`{0}` is not an age recipient (a public key: age1…)")]
    Recipient(String),
    #[error("that is not an age identity (a secret key: AGE-SECRET-KEY-1…)")]
    Identity,
    #[error("not an age-encrypted file: {0}")]
    Header(String),
    #[error("sealed to another key: none of its recipients is {0}")]
    NoMatchingKey(String),
    #[error("its header was changed after it was sealed (its MAC does not match)")]
    HeaderMac,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A public key backups are sealed to (`age1…`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Recipient(PublicKey);

/// A secret key that opens what was sealed to its [`Recipient`] (`AGE-SECRET-KEY-1…`). Its
/// `Debug` does not show it.
#[derive(Clone)]
pub struct Identity(StaticSecret);

impl Recipient {
    pub fn parse(input: &str) -> Result<Recipient, AgeError> {
        let bad = || AgeError::Recipient(input.trim().to_owned());
        let (hrp, data) = bech32::decode(input.trim()).map_err(|_| bad())?;
        if hrp.as_str() != RECIPIENT_HRP {
            return Err(bad());
        }
        let bytes: [u8; 32] = data.try_into().map_err(|_| bad())?;
        Ok(Recipient(PublicKey::from(bytes)))
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = bech32::Hrp::parse_unchecked(RECIPIENT_HRP);
        let s = bech32::encode::<bech32::Bech32>(hrp, self.0.as_bytes()).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({self})")
    }
}

impl Identity {
    /// A new random key.
    pub fn generate() -> Identity {
        Identity(StaticSecret::from(rand::random::<[u8; 32]>()))
    }

    pub fn parse(input: &str) -> Result<Identity, AgeError> {
        // The key alone, or a key file as `age-keygen` writes it (comments, then the key).
        let line = input
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or(AgeError::Identity)?;
        let (hrp, data) = bech32::decode(line).map_err(|_| AgeError::Identity)?;
        if !hrp.as_str().eq_ignore_ascii_case(IDENTITY_HRP) {
            return Err(AgeError::Identity);
        }
        let bytes: [u8; 32] = data.try_into().map_err(|_| AgeError::Identity)?;
        Ok(Identity(StaticSecret::from(bytes)))
    }

    pub fn recipient(&self) -> Recipient {
        Recipient(PublicKey::from(&self.0))
    }

    /// The secret key as text, for the keychain or a key file: handle with care.
    pub fn to_secret_string(&self) -> String {
        let hrp = bech32::Hrp::parse_unchecked(IDENTITY_HRP);
        bech32::encode_upper::<bech32::Bech32>(hrp, self.0.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(for {})", self.recipient())
    }
}

fn hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is always a valid length for HKDF-SHA-256.
    let _ = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm).expand(info, &mut out);
    out
}

fn header_mac(file_key: &[u8; 16], header: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    let key = hkdf(file_key, &[], b"header");
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(header);
    mac
}

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 keys are 32 bytes"))
}

fn chunk_nonce(counter: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::from(nonce)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// A writer that seals everything written to it to one recipient; [`Sealer::finish`] writes
/// the last chunk and gives the inner writer back. Dropping it unfinished leaves a file that
/// does not open (its end is missing), never one that opens short.
pub struct Sealer<W: Write> {
    inner: W,
    cipher: ChaCha20Poly1305,
    buf: Vec<u8>,
    counter: u64,
}

impl<W: Write> Sealer<W> {
    /// Writes the header for `recipient` to `inner`.
    pub fn new(recipient: &Recipient, mut inner: W) -> io::Result<Sealer<W>> {
        let file_key: [u8; 16] = rand::random();
        let ephemeral = StaticSecret::from(rand::random::<[u8; 32]>());
        let share = PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&recipient.0);
        if !shared.was_contributory() {
            return Err(invalid("the recipient is not a usable X25519 key"));
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(share.as_bytes());
        salt[32..].copy_from_slice(recipient.0.as_bytes());
        let wrap = cipher(&hkdf(shared.as_bytes(), &salt, X25519_INFO));
        let body = wrap
            .encrypt(&Nonce::from([0u8; 12]), &file_key[..])
            .map_err(|_| invalid("wrapping the file key failed"))?;
        let mut header = Vec::with_capacity(256);
        header.extend_from_slice(VERSION_LINE);
        header.extend_from_slice(b"\n-> X25519 ");
        header.extend_from_slice(B64.encode(share.as_bytes()).as_bytes());
        header.push(b'\n');
        // 32 bytes are 43 columns: one line, shorter than 64 as the format wants.
        header.extend_from_slice(B64.encode(&body).as_bytes());
        header.extend_from_slice(b"\n---");
        let mac = header_mac(&file_key, &header).finalize().into_bytes();
        header.push(b' ');
        header.extend_from_slice(B64.encode(mac).as_bytes());
        header.push(b'\n');
        let nonce: [u8; 16] = rand::random();
        header.extend_from_slice(&nonce);
        inner.write_all(&header)?;
        Ok(Sealer {
            inner,
            cipher: cipher(&hkdf(&file_key, &nonce, b"payload")),
            buf: Vec::with_capacity(CHUNK),
            counter: 0,
        })
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(&chunk_nonce(self.counter, last), &self.buf[..])
            .map_err(|_| invalid("sealing a chunk failed"))?;
        self.inner.write_all(&sealed)?;
        self.buf.clear();
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| invalid("too many chunks"))?;
        Ok(())
    }

    /// Seals the last chunk: the inner writer (not flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.seal(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full chunk is sealed only once more data comes: the last chunk may be full too.
        if self.buf.len() == CHUNK && !data.is_empty() {
            self.seal(false)?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader of what a sealed stream holds, each chunk authenticated before it is handed out.
pub struct Opener<R: Read> {
    inner: BufReader<R>,
    cipher: ChaCha20Poly1305,
    counter: u64,
    plain: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> Opener<R> {
    /// Reads and checks the header of `inner` and unwraps its file key with `identity`.
    pub fn new(identity: &Identity, inner: R) -> Result<Opener<R>, AgeError> {
        let mut inner = BufReader::with_capacity(CHUNK + TAG, inner);
        let mut header = Vec::new();
        let mut line = Vec::new();
        let read_line = |inner: &mut BufReader<R>, line: &mut Vec<u8>| -> Result<(), AgeError> {
            line.clear();
            let mut limited = inner.by_ref().take((MAX_HEADER + 1) as u64);
            limited.read_until(b'\n', line)?;
            if line.last() != Some(&b'\n') {
                return Err(AgeError::Header("its header ends too soon".to_owned()));
            }
            line.pop();
            Ok(())
        };
        read_line(&mut inner, &mut line)?;
        if line != VERSION_LINE {
            return Err(AgeError::Header(
                "it does not start with age-encryption.org/v1".to_owned(),
            ));
        }
        header.extend_from_slice(&line);
        let mut file_key = None;
        let mac = loop {
            read_line(&mut inner, &mut line)?;
            if header.len() > MAX_HEADER {
                return Err(AgeError::Header("its header is too long".to_owned()));
            }
            header.push(b'\n');
            if let Some(mac) = line.strip_prefix(b"--- ") {
                header.extend_from_slice(b"---");
                break B64
                    .decode(mac)
                    .map_err(|_| AgeError::Header("its MAC is not base64".to_owned()))?;
            }
            let Some(args) = line.strip_prefix(b"-> ") else {
                return Err(AgeError::Header("a recipient line is malformed".to_owned()));
            };
            let args: Vec<Vec<u8>> = args.split(|b| *b == b' ').map(<[u8]>::to_vec).collect();
            header.extend_from_slice(&line);
            // The body: lines of 64 columns, the last one shorter.
            let mut body_b64 = Vec::new();
            loop {
                read_line(&mut inner, &mut line)?;
                header.push(b'\n');
                header.extend_from_slice(&line);
                body_b64.extend_from_slice(&line);
                if line.len() < 64 {
                    break;
                }
                if header.len() > MAX_HEADER {
                    return Err(AgeError::Header("its header is too long".to_owned()));
                }
            }
            if file_key.is_none()
                && let [kind, share] = args.as_slice()
                && kind == b"X25519"
            {
                file_key = unwrap_x25519(identity, share, &body_b64);
            }
        };
        let file_key =
            file_key.ok_or_else(|| AgeError::NoMatchingKey(identity.recipient().to_string()))?;
        header_mac(&file_key, &header)
            .verify_slice(&mac)
            .map_err(|_| AgeError::HeaderMac)?;
        let mut nonce = [0u8; 16];
        inner
            .read_exact(&mut nonce)
            .map_err(|_| AgeError::Header("it ends after its header".to_owned()))?;
        Ok(Opener {
            inner,
            cipher: cipher(&hkdf(&file_key, &nonce, b"payload")),
            counter: 0,
            plain: Vec::new(),
            at: 0,
            done: false,
        })
    }

    /// Reads, authenticates and decrypts the next chunk into `plain`.
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut sealed = vec![0u8; CHUNK + TAG];
        let mut n = 0;
        while n < sealed.len() {
            match self.inner.read(&mut sealed[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        sealed.truncate(n);
        // A short chunk is the last; a full one is the last when nothing follows it.
        let last = n < CHUNK + TAG || self.inner.fill_buf()?.is_empty();
        self.plain = self
            .cipher
            .decrypt(&chunk_nonce(self.counter, last), &sealed[..])
            .map_err(|_| {
                invalid(if last {
                    "it is damaged or cut short (its last chunk does not authenticate)"
                } else {
                    "it is damaged (a chunk does not authenticate)"
                })
            })?;
        if last && self.plain.is_empty() && self.counter > 0 {
            return Err(invalid("it ends with an empty chunk"));
        }
        self.at = 0;
        self.done = last;
        self.counter += 1;
        Ok(())
    }
}

fn unwrap_x25519(identity: &Identity, share: &[u8], body_b64: &[u8]) -> Option<[u8; 16]> {
    let share: [u8; 32] = B64.decode(share).ok()?.try_into().ok()?;
    let body = B64.decode(body_b64).ok()?;
    let share = PublicKey::from(share);
    let shared = identity.0.diffie_hellman(&share);
    if !shared.was_contributory() {
        return None;
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(share.as_bytes());
    salt[32..].copy_from_slice(identity.recipient().0.as_bytes());
    let wrap = cipher(&hkdf(shared.as_bytes(), &salt, X25519_INFO));
    let key = wrap.decrypt(&Nonce::from([0u8; 12]), &body[..]).ok()?;
    key.try_into().ok()
}

impl<R: Read> Read for Opener<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
