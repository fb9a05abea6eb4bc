//! The OCI distribution-spec conformance suite (its Go/ginkgo version: pull, push, content
//! discovery, content management), ported request for request: the same documents, the same
//! requests in the same order, the same expected statuses, headers and bodies, against a live
//! `ocilayout serve --push --delete`. Each category runs on a server of its own, and all four run
//! in the suite's order on one server and one repository, as the suite runs them.

mod client;
mod data;
mod discovery;
mod management;
mod pull;
mod push;

use client::Client;

#[test]
fn pull() {
    let c = Client::start();
    pull::run(&c, &data::Data::new());
}

#[test]
fn push() {
    let c = Client::start();
    push::run(&c, &data::Data::new());
}

#[test]
fn content_discovery() {
    let c = Client::start();
    discovery::run(&c, &data::Data::new());
}

#[test]
fn content_management() {
    let c = Client::start();
    management::run(&c, &data::Data::new());
}

/// The suite's own order on one repository: each category's teardown leaves what the next one
/// builds on.
#[test]
fn every_category_in_order() {
    let c = Client::start();
    let d = data::Data::new();
    pull::run(&c, &d);
    push::run(&c, &d);
    discovery::run(&c, &d);
    management::run(&c, &d);
}
