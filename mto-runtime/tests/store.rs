//! The gateway's store in a real PostgreSQL server passes the same suite
//! as the embedded one.

use mto_runtime::store::{Postgres, suite};

#[tokio::test]
#[ignore = "needs PostgreSQL: deploy/testenv/run"]
async fn the_postgres_store_passes_the_suite_and_migrates_once() {
    let url = std::env::var("MTO_TESTENV_POSTGRES")
        .expect("run under deploy/testenv/run, which starts PostgreSQL");
    let first = Postgres::connect(&url)
        .await
        .expect("connects and migrates");
    // A second replica starting finds the schema in place.
    let second = Postgres::connect(&url).await.expect("connects again");
    let user = format!("run-{}", std::process::id());
    suite::audit_entries_come_back_newest_first(&first, &user).await;
    suite::allocation_records_are_replaced_by_hour_and_forgotten_before_it(&first, &user).await;
    suite::sessions_expire_and_are_taken_once(&first, &user).await;
    let seen = mto_runtime::store::Store::audit_log(&second, 5)
        .await
        .expect("the other replica reads");
    assert!(
        seen.iter().any(|e| e.user == user),
        "one log for every replica"
    );
}
