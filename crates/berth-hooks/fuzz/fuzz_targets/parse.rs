//! Fuzz target: any request, for any provider, goes through verify, parse, decide, delivery_id
//! and event_name without panicking, and what comes out keeps its documented limits.
//!
//! Input, so that seeds and crashes are readable: the first byte picks the provider (mod 4);
//! then `Name: value` header lines up to an empty line; the rest is the body. An
//! `X-Fuzz-Pattern` header is also used as a branch/tag pattern.

#![no_main]

use berth_hooks::{
    Event, ImagePush, Provider, Push, WebhookFilter, decide, decide_image, delivery_id, event_name,
    glob_match, parse, validate_pattern, verify,
};
use libfuzzer_sys::fuzz_target;

/// The fuzz seeds are signed with this secret.
const SECRET: &[u8] = b"fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let provider = Provider::ALL[usize::from(selector) % Provider::ALL.len()];
    let (headers, body) = split_request(rest);

    match verify(provider, SECRET, &headers, body) {
        Ok(()) => {}
        Err(rejection) => check_rejection(&rejection.to_string(), rejection.status()),
    }

    let pattern = berth_hooks::Headers::get(&headers, "X-Fuzz-Pattern")
        .unwrap_or("main")
        .to_owned();
    let filter = WebhookFilter {
        branch: pattern.clone(),
        tags: Some(pattern.clone()),
    };
    match parse(provider, &headers, body) {
        Ok(Event::Push(push)) => check_push(&push, &filter),
        Ok(Event::Image(image)) => check_image(&image, &filter),
        Ok(Event::Ping) => {}
        Ok(Event::Other { event }) => assert!(event.len() <= 64 && event.is_ascii()),
        Err(rejection) => check_rejection(&rejection.to_string(), rejection.status()),
    }

    let id = delivery_id(provider, &headers, body);
    assert!(!id.is_empty() && id.len() <= 200, "{id:?}");
    assert!(id.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{id:?}");
    let event = event_name(provider, &headers);
    assert!(!event.is_empty() && event.len() <= 64, "{event:?}");
    assert!(
        event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)),
        "{event:?}"
    );

    let _ = validate_pattern(&pattern);
    let text = String::from_utf8_lossy(body);
    let matched = glob_match(&pattern, &text);
    if !pattern.contains(['*', '?']) {
        assert_eq!(matched, pattern == text, "{pattern:?} ~ {text:?}");
    }
    if pattern.chars().all(|c| c == '*') && pattern.len() >= 2 {
        assert!(matched, "{pattern:?} matches everything");
    }
});

fn split_request(data: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let headers = head
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let line = String::from_utf8_lossy(line);
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim_start().to_owned()))
        })
        .collect();
    (headers, body)
}

fn check_rejection(message: &str, status: u16) {
    assert!(matches!(status, 400 | 401 | 415), "{status}");
    assert!(message.chars().count() <= 400, "{message}");
}

/// An image push names a valid image reference, and deciding on it never panics.
fn check_image(image: &ImagePush, filter: &WebhookFilter) {
    let reference = image.reference();
    let parsed = berth_model::ImageRef::parse(&reference)
        .unwrap_or_else(|e| panic!("{reference:?} is not a reference: {e}"));
    assert_eq!(parsed.tag.as_deref(), Some(image.tag.as_str()));
    if let Some(pusher) = &image.pusher {
        assert!(!pusher.is_empty() && pusher.chars().all(|c| !c.is_control()));
    }
    let _ = decide_image(image, filter);
}

fn check_push(push: &Push, filter: &WebhookFilter) {
    assert!(!push.git_ref.is_empty() && push.git_ref.len() <= 255);
    if let Some(commit) = &push.commit {
        assert!(matches!(commit.len(), 40 | 64), "{commit}");
        assert!(
            commit
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(!push.deleted);
    }
    for text in [&push.message, &push.pusher, &push.repository]
        .into_iter()
        .flatten()
    {
        assert!(!text.is_empty() && text.chars().count() <= 200, "{text:?}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    match decide(push, filter) {
        Ok(_) => assert!(push.commit.is_some() && !push.deleted),
        Err(reason) => assert!(!reason.is_empty()),
    }
}
