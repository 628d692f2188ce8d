//! `roster org create`: founds an organization, invites its first owner, and hands
//! the operator a link whose token the log only knows by digest.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use roster::bootstrap::{create_org, BootstrapError};
use roster::{CreateOrgArgs, ShapeArg};
use roster_commands::tokens::TokenKey;
use roster_commands::{Application, Clock, ManualClock};
use roster_domain::organization::OrgEvent;
use roster_domain::{decode, Role};
use roster_eventstore::{EventStore, Source, StreamId};
use roster_tests::Backend;
use sha2::{Digest, Sha256};

fn key() -> TokenKey {
    TokenKey::new(vec![42u8; 32]).expect("key")
}

/// The application the CLI builds, on a fresh SQLite file, with time from `clock`.
async fn cli_app(clock: Arc<dyn Clock>) -> (Application, Arc<dyn EventStore>) {
    let (store, read) = roster_tests::store_and_read_db(Backend::Sqlite, clock.clone())
        .await
        .expect("store");
    (
        Application::new(store.clone(), read, key(), clock, Source::Cli),
        store,
    )
}

fn args(shape: ShapeArg, accounts: &[&str]) -> CreateOrgArgs {
    CreateOrgArgs {
        name: "  Acme Group ".into(),
        shape,
        owner_email: "Olive@Acme.io".into(),
        owner_name: "Olive Owner".into(),
        accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
        public_url: "https://portal.example/".into(),
    }
}

#[tokio::test]
async fn creating_a_multi_account_org_records_it_and_invites_the_owner() {
    let now = Utc
        .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("time");
    let (app, store) = cli_app(Arc::new(ManualClock::new(now))).await;
    let created = create_org(&app, &args(ShapeArg::Multi, &["Europe", "US"]))
        .await
        .expect("created");
    assert_eq!(created.expires_at, now + Duration::minutes(15));
    let token = created
        .accept_link
        .strip_prefix("https://portal.example/invitations/")
        .expect("link under the public URL");
    assert_eq!(token.len(), 64);

    let stream = StreamId::new(created.org_id.stream_name()).expect("stream");
    let recorded = store.read_stream(&stream, 1, 100).await.expect("read");
    assert!(recorded.iter().all(|r| r.metadata.source == Source::Cli));
    let events: Vec<OrgEvent> = recorded
        .iter()
        .map(|r| decode(&r.event_type, r.schema_version, &r.payload).expect("decode"))
        .collect();
    let types: Vec<&str> = events.iter().map(OrgEvent::event_type).collect();
    assert_eq!(
        types,
        [
            "OrganizationCreated",
            "AccountAdded",
            "AccountAdded",
            "UserInvited"
        ]
    );
    let OrgEvent::UserInvited(invited) = &events[3] else {
        panic!("expected UserInvited")
    };
    assert_eq!(invited.role, Role::owner_of(roster_domain::OrgShape::Multi));
    assert_eq!(invited.email.as_str(), "Olive@Acme.io");
    assert_eq!(invited.invitation_id, created.invitation_id);
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    assert_eq!(
        invited.token_digest.as_bytes(),
        &digest,
        "the log holds the digest, never the token"
    );
    assert!(!recorded[3].payload.to_string().contains(token));
    assert_eq!(
        key()
            .invitation_token(invited.invitation_id, invited.send_id)
            .expose(),
        token,
        "the link can be derived again from the event and the secret (for the email worker)"
    );
}

#[tokio::test]
async fn bad_bootstrap_arguments_name_the_flag_and_write_nothing() {
    let (app, store) = cli_app(Arc::new(ManualClock::new(Utc::now()))).await;
    let mut bad_email = args(ShapeArg::Single, &[]);
    bad_email.owner_email = "not-an-address".into();
    let err = create_org(&app, &bad_email).await.expect_err("refused");
    assert!(
        matches!(
            err,
            BootstrapError::BadArgument {
                flag: "--owner-email",
                ..
            }
        ),
        "{err}"
    );

    let err = create_org(&app, &args(ShapeArg::Single, &["Europe"]))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            BootstrapError::BadArgument {
                flag: "--account",
                ..
            }
        ),
        "{err}"
    );

    let err = create_org(&app, &args(ShapeArg::Multi, &["Europe", "europe"]))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        store.head().await.expect("head").0,
        0,
        "nothing was written"
    );
}
