//! The application's use cases called directly, without HTTP: what an owner, an
//! invitee and a member can do, on both backends.

use std::sync::Arc;

use roster::bootstrap::create_org;
use roster::{CreateOrgArgs, ShapeArg};
use roster_commands::authorize::owner_of;
use roster_commands::tokens::TokenKey;
use roster_commands::use_cases::accept_invite::{accept_invite, AcceptInvite};
use roster_commands::use_cases::change_role::change_role;
use roster_commands::use_cases::invite_user::{invite_user, InviteUser};
use roster_commands::use_cases::my_profile::my_profile;
use roster_commands::use_cases::sessions::{authenticate, sign_in, SignIn};
use roster_commands::{Application, SystemClock, UseCaseError};
use roster_domain::{DomainError, Email, PersonName, Role, SingleRole, UserId};
use roster_eventstore::Source;
use roster_tests::{project_everything, store_and_read_db, Backend};

const PASSWORD: &str = "correct horse battery staple";

/// An application on a fresh database with an organization whose owner joined.
async fn with_owner(backend: Backend) -> (Application, roster_domain::OrgId, UserId) {
    let (store, read) = store_and_read_db(backend, Arc::new(SystemClock))
        .await
        .expect("database");
    for p in roster_projections::all() {
        roster_projections::runner::ensure_installed(&read, p.as_ref())
            .await
            .expect("install");
    }
    let app = Application::new(
        store,
        read,
        TokenKey::generate().expect("key"),
        Arc::new(SystemClock),
        Source::Api,
    );
    let created = create_org(
        &app,
        &CreateOrgArgs {
            name: "Acme".into(),
            shape: ShapeArg::Single,
            owner_email: "olive@acme.io".into(),
            owner_name: "Olive Owner".into(),
            accounts: vec![],
            public_url: "http://localhost".into(),
        },
    )
    .await
    .expect("org");
    let token = created.accept_link.rsplit('/').next().expect("token");
    let olive = join(&app, token).await;
    (app, created.org_id, olive)
}

/// A new person accepts the link `token` (after the read models caught up).
async fn join(app: &Application, token: &str) -> UserId {
    project_everything(&app.read, app.store.as_ref())
        .await
        .expect("project");
    accept_invite(
        app,
        AcceptInvite {
            token: token.to_owned(),
            full_name: Some("New Person".into()),
            password: Some(PASSWORD.into()),
            signed_in: None,
        },
    )
    .await
    .expect("joined")
    .user_id
}

/// The link token of an invitation's latest send, as the email worker derives it.
async fn current_link(
    app: &Application,
    org: roster_domain::OrgId,
    invitation: roster_domain::InvitationId,
) -> String {
    let send = app
        .orgs
        .inspect(org, |o| {
            o.and_then(|o| o.invitations.get(&invitation))
                .and_then(|i| i.sends.last().copied())
        })
        .await
        .expect("org")
        .expect("send");
    app.key
        .invitation_token(invitation, send)
        .expose()
        .to_owned()
}

fn ann(role: SingleRole) -> InviteUser {
    InviteUser {
        email: Email::parse("ann@acme.io").expect("email"),
        full_name: PersonName::parse("Ann Lee").expect("name"),
        role: Role::Single(role),
    }
}

async fn strangers_and_members_who_are_not_owners_are_told_apart(backend: Backend) {
    let (app, org, olive) = with_owner(backend).await;
    let owner = owner_of(&app, olive, org).await.expect("owner");
    let invited = invite_user(&app, &owner, ann(SingleRole::Admin))
        .await
        .expect("invited");
    let ann_id = join(&app, &current_link(&app, org, invited.invitation_id).await).await;
    assert!(matches!(
        owner_of(&app, ann_id, org).await,
        Err(UseCaseError::Refused(DomainError::NotAnOwner))
    ));
    let stranger = UserId::from_uuid(uuid::Uuid::now_v7());
    assert!(matches!(
        owner_of(&app, stranger, org).await,
        Err(UseCaseError::OrganizationNotFound)
    ));
}

async fn a_demoted_owner_is_refused_at_once_whatever_the_read_models_say(backend: Backend) {
    let (app, org, olive) = with_owner(backend).await;
    let owner = owner_of(&app, olive, org).await.expect("owner");
    let invited = invite_user(&app, &owner, ann(SingleRole::Owner))
        .await
        .expect("invited");
    let ann_id = join(&app, &current_link(&app, org, invited.invitation_id).await).await;
    let ann_as_owner = owner_of(&app, ann_id, org).await.expect("ann owns");
    change_role(&app, &ann_as_owner, olive, Role::Single(SingleRole::Admin))
        .await
        .expect("olive demoted");
    // The read models are not projected past the demotion; authorization does not ask them.
    assert!(matches!(
        owner_of(&app, olive, org).await,
        Err(UseCaseError::Refused(DomainError::NotAnOwner))
    ));
}

async fn a_member_signs_in_and_sees_their_organization(backend: Backend) {
    let (app, org, olive) = with_owner(backend).await;
    let session = sign_in(
        &app,
        SignIn {
            email: "OLIVE@acme.io".into(),
            password: PASSWORD.into(),
            client: None,
        },
    )
    .await
    .expect("signed in");
    assert_eq!(
        authenticate(&app, &session.token).await.expect("session"),
        olive
    );
    project_everything(&app.read, app.store.as_ref())
        .await
        .expect("project");
    let me = my_profile(&app, olive).await.expect("profile");
    assert_eq!(me.organizations.len(), 1);
    assert_eq!(me.organizations[0].org_id, org);
    assert_eq!(me.organizations[0].role.as_deref(), Some("owner"));
    let wrong = sign_in(
        &app,
        SignIn {
            email: "olive@acme.io".into(),
            password: "not the password at all".into(),
            client: None,
        },
    )
    .await;
    assert!(matches!(wrong, Err(UseCaseError::InvalidCredentials)));
}

roster_tests::on_both_backends!(
    strangers_and_members_who_are_not_owners_are_told_apart,
    a_demoted_owner_is_refused_at_once_whatever_the_read_models_say,
    a_member_signs_in_and_sees_their_organization,
);
