//! Activity operations through the real SDK.

use stefuna_local_testkit::*;

#[tokio::test]
async fn create_activity_is_idempotent_and_describable() {
    let emu = emulator().await;
    let c = client(&emu);
    let a = c.create_activity().name("resize").send().await.unwrap();
    let b = c.create_activity().name("resize").send().await.unwrap();
    assert_eq!(a.activity_arn, b.activity_arn);
    assert_eq!(a.creation_date, b.creation_date);
    assert_eq!(
        a.activity_arn,
        "arn:aws:states:us-east-1:123456789012:activity:resize"
    );
    let d = c
        .describe_activity()
        .activity_arn(&a.activity_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.name, "resize");
    assert_eq!(d.activity_arn, a.activity_arn);
    assert_eq!(d.creation_date, a.creation_date);
}

#[tokio::test]
async fn region_comes_from_the_signature() {
    let emu = emulator().await;
    let west = client_in(&emu, "us-west-2");
    let arn = west
        .create_activity()
        .name("r")
        .send()
        .await
        .unwrap()
        .activity_arn;
    assert_eq!(arn, "arn:aws:states:us-west-2:123456789012:activity:r");
    // Another region holds other resources.
    let east = client(&emu);
    let listed = east.list_activities().send().await.unwrap();
    assert!(listed.activities.is_empty());
}

#[tokio::test]
async fn list_activities_pages_in_creation_order() {
    let emu = emulator().await;
    let c = client(&emu);
    for i in 0..5 {
        c.create_activity()
            .name(format!("a{i}"))
            .send()
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = c
            .list_activities()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.activities.len() <= 2);
        names.extend(page.activities.into_iter().map(|a| a.name));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["a0", "a1", "a2", "a3", "a4"]);
    let err = c
        .list_activities()
        .next_token("bogus")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidToken");
}

#[tokio::test]
async fn delete_activity_removes_it() {
    let emu = emulator().await;
    let c = client(&emu);
    let arn = c
        .create_activity()
        .name("gone")
        .send()
        .await
        .unwrap()
        .activity_arn;
    c.delete_activity().activity_arn(&arn).send().await.unwrap();
    let err = c
        .describe_activity()
        .activity_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ActivityDoesNotExist");
    let err = c
        .get_activity_task()
        .activity_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ActivityDoesNotExist");
}

#[tokio::test]
async fn bad_names_and_arns_are_refused() {
    let emu = emulator().await;
    let c = client(&emu);
    let err = c
        .create_activity()
        .name("has space")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidName");
    let err = c
        .create_activity()
        .name("x".repeat(81))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidName");
    let err = c
        .describe_activity()
        .activity_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
    let err = c
        .describe_activity()
        .activity_arn("arn:aws:states:us-east-1:123456789012:stateMachine:sm")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
}
