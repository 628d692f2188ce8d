//! The auditor's commands (`roster history`, `roster verify`, `roster replay`)
//! over a real log, without a server running.

use std::sync::Arc;

use roster::audit;
use roster::bootstrap::create_org;
use roster::{CreateOrgArgs, HistoryArgs, HistoryFormat, ReplayArgs, ShapeArg};
use roster_eventstore::SystemClock;
use roster_tests::{store_and_read_db, Backend};

fn history_args(org: String, format: HistoryFormat) -> HistoryArgs {
    HistoryArgs {
        org: Some(org),
        request: None,
        format,
        since: None,
        until: None,
        event_type: None,
        actor: None,
        subject: None,
    }
}

#[tokio::test]
async fn history_exports_json_lines_and_csv_and_verify_and_replay_report_a_clean_log() {
    let (store, db) = store_and_read_db(Backend::Sqlite, Arc::new(SystemClock))
        .await
        .expect("world");
    let args = CreateOrgArgs {
        name: "Acme, Inc.".into(),
        shape: ShapeArg::Multi,
        owner_email: "olive@acme.io".into(),
        owner_name: "Olive \"O\" Owner".into(),
        accounts: vec!["Europe".into()],
        public_url: "http://localhost".into(),
    };
    let app = roster_commands::Application::new(
        store.clone(),
        db.clone(),
        roster_commands::tokens::TokenKey::generate().expect("key"),
        Arc::new(SystemClock),
        roster_eventstore::Source::Cli,
    );
    let created = create_org(&app, &args).await.expect("created");
    let org = created.org_id.to_string();

    let mut jsonl = Vec::new();
    audit::history(
        &db,
        store.clone(),
        &history_args(org.clone(), HistoryFormat::Jsonl),
        &mut jsonl,
    )
    .await
    .expect("history");
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let types: Vec<&str> = lines
        .iter()
        .map(|l| l["event_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        ["OrganizationCreated", "AccountAdded", "UserInvited"]
    );
    assert_eq!(
        lines[0]["summary"],
        "The operator created the multi-account organization \"Acme, Inc.\""
    );
    assert_eq!(lines[0]["source"], "cli");

    let mut csv = Vec::new();
    let mut only_invites = history_args(org.clone(), HistoryFormat::Csv);
    only_invites.event_type = Some("UserInvited".into());
    audit::history(&db, store.clone(), &only_invites, &mut csv)
        .await
        .expect("csv");
    let csv = String::from_utf8(csv).expect("utf8");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "position,recorded_at,event_type,actor,subject,source,event_id,summary"
    );
    assert_eq!(rows.len(), 2);
    assert!(
        rows[1]
            .ends_with("\"The operator invited Olive \"\"O\"\" Owner <olive@acme.io> as owner; the link is valid 15 minutes\""),
        "{}",
        rows[1]
    );

    let bad = audit::history(
        &db,
        store.clone(),
        &history_args("nope".into(), HistoryFormat::Jsonl),
        &mut Vec::new(),
    )
    .await
    .expect_err("not an id");
    assert_eq!(
        roster_domain::error_chain(&bad),
        "--org: \"nope\" is not an organization id (a UUID)"
    );

    assert!(audit::verify(store.clone(), None).await.expect("verify"));
    let key = roster_commands::tokens::TokenKey::generate().expect("key");
    let seal_file = std::env::temp_dir()
        .join("roster-tests")
        .join(format!("seal-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(seal_file.parent().expect("folder")).expect("folder");
    audit::seal(store.clone(), &key, &seal_file)
        .await
        .expect("sealed");
    assert!(
        audit::verify(store.clone(), Some((&seal_file, &key)))
            .await
            .expect("verify"),
        "the log is as sealed"
    );
    let other = roster_commands::tokens::TokenKey::generate().expect("key");
    assert!(
        audit::verify(store.clone(), Some((&seal_file, &other)))
            .await
            .is_err(),
        "a seal does not open under another secret"
    );
    let _ = std::fs::remove_file(&seal_file);
    let verify_only = ReplayArgs {
        projection: None,
        verify: true,
    };
    assert!(audit::replay(&db, store.clone(), &verify_only)
        .await
        .expect("replay"));
    let unknown = ReplayArgs {
        projection: Some("nonsense".into()),
        verify: false,
    };
    let err = audit::replay(&db, store.clone(), &unknown)
        .await
        .expect_err("unknown projection");
    assert!(
        err.to_string()
            .contains("a projection: members, invitations, access, deadlines, history"),
        "{err}"
    );
    let swap = ReplayArgs {
        projection: Some("history".into()),
        verify: false,
    };
    assert!(audit::replay(&db, store.clone(), &swap)
        .await
        .expect("replay"));
}
