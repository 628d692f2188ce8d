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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_much_guessed_account_delays_sign_ins_without_holding_the_writes() {
    let s = TestServer::start_with(Backend::Sqlite, |args| {
        args.trusted_proxies = vec!["127.0.0.0/8".parse().expect("net")];
        args.max_concurrent_writes = 2;
    })
    .await
    .expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    // Eleven failures from eleven addresses: every further attempt waits 8 s.
    let guess = |i: u32| {
        let (s_base, http) = (s.base.clone(), s.http.clone());
        async move {
            http.post(format!("{s_base}/api/sessions"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({ "email": "olive@acme.io", "password": "not her password" }))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let first: Vec<_> = (0..11).map(|i| tokio::spawn(guess(i))).collect();
    for g in first {
        assert_eq!(g.await.expect("task").ok(), Some(401));
    }
    let delayed: Vec<_> = (11..19).map(|i| tokio::spawn(guess(i))).collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let invited = tokio::time::timeout(
        std::time::Duration::from_secs(4),
        s.call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "standard" })),
        ),
    )
    .await
    .expect("the owner's invitation does not wait for the delayed sign-ins");
    assert_eq!(invited.0, 201, "{}", invited.1);
    assert!(
        delayed.iter().all(|d| !d.is_finished()),
        "the guesses are still being delayed"
    );
    for d in delayed {
        d.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_asked_by_a_stranger_block_no_invitation_and_not_the_persons_own() {
    let s = TestServer::start_on(Backend::Sqlite).await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let reset_from = |client: reqwest::Client| {
        let url = format!("{}/api/password-resets", s.base);
        async move {
            client
                .post(url)
                .json(&json!({ "email": "victim@else.io" }))
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    let stranger = client_from([127, 0, 0, 2]);
    let mut answers = Vec::new();
    for _ in 0..8 {
        answers.push(reset_from(stranger.clone()).await);
    }
    assert_eq!(answers, [202, 202, 202, 429, 429, 429, 429, 429]);
    let (status, body) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "victim@else.io", "full_name": "Vic", "role": "standard" })),
        )
        .await;
    assert_eq!(
        status, 201,
        "an invitation is not counted with resets: {body}"
    );
    assert_eq!(
        reset_from(client_from([127, 0, 0, 3])).await,
        202,
        "the person asks from their own address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_of_some_members_block_no_one_elses_change() {
    let s = TestServer::start_on(Backend::Sqlite).await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let change = |client: reqwest::Client, session: String, current: &'static str| {
        let url = format!("{}/api/me/password", s.base);
        async move {
            client
                .post(url)
                .bearer_auth(session)
                .json(&json!({ "current_password": current, "new_password": "a brand new passphrase 42" }))
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    for n in 0..4u8 {
        let (_, session, _) = s
            .member(
                org,
                &olive,
                &format!("m{n}@acme.io"),
                json!({ "role": "standard" }),
            )
            .await;
        for _ in 0..5 {
            let status = change(client_from([127, 0, 1, n]), session.clone(), "wrong guess").await;
            assert!(matches!(status, 422 | 429), "{status}");
        }
    }
    let (_, last, _) = s
        .member(org, &olive, "last@acme.io", json!({ "role": "standard" }))
        .await;
    assert_eq!(
        change(client_from([127, 0, 2, 1]), last, PASSWORD).await,
        204,
        "another member, from another address, changes theirs"
    );
}
