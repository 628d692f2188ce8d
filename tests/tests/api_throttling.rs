//! Sign-in throttling over HTTP: every parallel guess counts, a stranger cannot
//! lock a known person out, and behind a trusted proxy each client counts alone.

use std::net::{IpAddr, Ipv4Addr};

use roster::ShapeArg;
use roster_tests::http::{TestServer, PASSWORD};
use roster_tests::Backend;
use serde_json::json;

/// A client whose requests leave from `address` on loopback.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(address)))
        .build()
        .expect("client")
}

async fn sign_in_status(
    s: &TestServer,
    client: &reqwest::Client,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut request = client
        .post(format!("{}/api/sessions", s.base))
        .json(&json!({ "email": email, "password": password }));
    if let Some(f) = forwarded_for {
        request = request.header("x-forwarded-for", f);
    }
    request.send().await.expect("answer").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_are_all_counted_before_any_is_checked() {
    let s = TestServer::start().await.expect("server");
    s.org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let http = s.http.clone();
            let url = format!("{}/api/sessions", s.base);
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({ "email": "olive@acme.io", "password": format!("guess number {i}") }))
                    .send()
                    .await
                    .expect("answer")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    for g in guesses {
        match g.await.expect("task") {
            401 => checked += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(checked, 5, "only the allowed five passwords were checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_guessing_cannot_lock_the_owner_out() {
    let s = TestServer::start().await.expect("server");
    s.org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let stranger = client_from([127, 0, 0, 2]);
    for _ in 0..8 {
        sign_in_status(&s, &stranger, "olive@acme.io", "not her password", None).await;
    }
    assert_eq!(
        sign_in_status(&s, &stranger, "olive@acme.io", PASSWORD, None).await,
        429,
        "the stranger's address is stopped, even with the right password"
    );
    let olive = client_from([127, 0, 0, 3]);
    assert_eq!(
        sign_in_status(&s, &olive, "olive@acme.io", PASSWORD, None).await,
        201,
        "the owner, from her own address, still gets in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let behind_proxy = TestServer::start_with(Backend::Postgres, |args| {
        args.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
    })
    .await
    .expect("server");
    behind_proxy
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let proxy = client_from([127, 0, 0, 9]);
    for _ in 0..6 {
        sign_in_status(
            &behind_proxy,
            &proxy,
            "olive@acme.io",
            "not her password",
            Some("203.0.113.9"),
        )
        .await;
    }
    assert_eq!(
        sign_in_status(
            &behind_proxy,
            &proxy,
            "olive@acme.io",
            PASSWORD,
            Some("203.0.113.9")
        )
        .await,
        429
    );
    assert_eq!(
        sign_in_status(
            &behind_proxy,
            &proxy,
            "olive@acme.io",
            PASSWORD,
            Some("198.51.100.1")
        )
        .await,
        201,
        "another client behind the same proxy is not held back"
    );

    let direct = TestServer::start().await.expect("server");
    direct
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let spoofer = client_from([127, 0, 0, 10]);
    for i in 0..6 {
        let fake = format!("198.51.100.{i}");
        sign_in_status(
            &direct,
            &spoofer,
            "olive@acme.io",
            "not her password",
            Some(&fake),
        )
        .await;
    }
    assert_eq!(
        sign_in_status(
            &direct,
            &spoofer,
            "olive@acme.io",
            PASSWORD,
            Some("192.0.2.77")
        )
        .await,
        429,
        "a header from an untrusted peer changes nothing"
    );
}
