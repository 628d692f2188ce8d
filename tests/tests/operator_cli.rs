//! `roster org list | show | invite-owner`: an organization whose only owner
//! invitation expired is stuck; the operator sees it and puts a new owner in.

use std::sync::Arc;

use chrono::{Duration, Utc};
use roster::bootstrap::create_org;
use roster::{CreateOrgArgs, ShapeArg};
use roster_commands::tokens::TokenKey;
use roster_commands::use_cases::accept_invite::{accept_invite, AcceptInvite};
use roster_commands::use_cases::my_profile::my_profile;
use roster_commands::{Application, ManualClock};
use roster_eventstore::{Source, StreamId};
use roster_tests::{project_everything, store_and_read_db, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_puts_a_stuck_organization_back_in_someones_hands() {
    let clock = ManualClock::new(Utc::now());
    let (store, read) = store_and_read_db(Backend::Postgres, Arc::new(clock.clone()))
        .await
        .expect("database");
    let app = Application::new(
        store.clone(),
        read.clone(),
        TokenKey::generate().expect("key"),
        Arc::new(clock.clone()),
        Source::Cli,
    );
    let created = create_org(
        &app,
        &CreateOrgArgs {
            name: "Stuck Ltd".into(),
            shape: ShapeArg::Single,
            owner_email: "gone@stuck.io".into(),
            owner_name: "Gone".into(),
            accounts: vec![],
            public_url: "https://portal.example".into(),
        },
    )
    .await
    .expect("org");
    clock.advance(Duration::minutes(16));
    project_everything(&read, store.as_ref())
        .await
        .expect("project");

    let mut listed = Vec::new();
    roster::operator::list(&app, &mut listed)
        .await
        .expect("list");
    let listed = String::from_utf8(listed).expect("text");
    assert!(listed.contains("Stuck Ltd"), "{listed}");
    assert!(listed.contains("owners: 0"), "{listed}");
    assert!(
        listed.contains("(no owner: use org invite-owner)"),
        "{listed}"
    );

    let mut shown = Vec::new();
    roster::operator::show(&app, &created.org_id.to_string(), &mut shown)
        .await
        .expect("show");
    let shown = String::from_utf8(shown).expect("text");
    assert!(
        shown.contains("gone@stuck.io") && shown.contains("expired"),
        "{shown}"
    );

    let mut printed = Vec::new();
    roster::operator::invite_owner(
        &app,
        &created.org_id.to_string(),
        "rescue@stuck.io",
        "Rescue Owner",
        "https://portal.example",
        &mut printed,
    )
    .await
    .expect("invited");
    let printed = String::from_utf8(printed).expect("text");
    let token = printed
        .rsplit("https://portal.example/invitations/")
        .next()
        .map(str::trim)
        .expect("a link");
    project_everything(&read, store.as_ref())
        .await
        .expect("project");
    let joined = accept_invite(
        &app,
        AcceptInvite {
            token: token.to_owned(),
            full_name: Some("Rescue Owner".into()),
            password: Some("correct horse battery staple".into()),
            signed_in: None,
        },
    )
    .await
    .expect("accepted");
    project_everything(&read, store.as_ref())
        .await
        .expect("project");
    let me = my_profile(&app, joined.user_id).await.expect("profile");
    assert_eq!(me.organizations[0].role.as_deref(), Some("owner"));

    let stream = StreamId::new(created.org_id.stream_name()).expect("stream");
    let invited = store
        .read_stream(&stream, 1, 100)
        .await
        .expect("read")
        .into_iter()
        .rev()
        .find(|e| e.event_type == "UserInvited")
        .expect("the operator's invitation");
    assert_eq!(
        invited.metadata.source,
        Source::Cli,
        "recorded as the operator's"
    );
    assert!(roster::operator::show(&app, "not-an-id", &mut Vec::new())
        .await
        .is_err());
}
