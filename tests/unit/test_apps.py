"""APP-001 and the collector of apps that send or read mail as any user."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses

from auditor.collect.collectors import CollectContext
from auditor.collect.collectors.graph_sources import mail_apps
from auditor.collect.graph import GraphClient
from auditor.collect.http import HttpClient, RetryPolicy
from auditor.common.errors import AuditInputError
from auditor.judge import Status
from tests.helpers import judge, make_baseline
from tests.helpers import statuses as statuses_of

APP = "11111111-aaaa-bbbb-cccc-000000000001"
GRAPH = "https://graph.test/v1.0"


def app(name="CRM", app_id=APP, permission="Mail.Send", verified=None):
    return {
        "id": f"sp-{name}",
        "appId": app_id,
        "displayName": name,
        "publisherName": "Contoso",
        "verifiedPublisher": verified,
        "permissions": [
            {
                "resource": "Microsoft Graph",
                "permission": permission,
                "grantedAt": "2026-10-02T14:11:00Z",
            }
        ],
    }


def judged(apps, policies=(), **baseline):
    return judge(
        "APP-001",
        {"graph.mailApps": list(apps), "exchange.applicationAccessPolicies": list(policies)},
        **baseline,
    )


class TestMailApps:
    def test_an_unscoped_unapproved_sender_fails_naming_publisher_and_consent(self):
        (result,) = judged([app()]).results
        assert result.status is Status.FAIL and result.resource == "app:CRM"
        assert "can send as any user" in result.message
        assert "granted 2026-10-02T14:11:00Z" in result.message
        assert "publisher Contoso (unverified)" in result.message

    def test_a_reader_is_said_to_read(self):
        (result,) = judged([app(permission="Mail.ReadWrite")]).results
        assert "can read and change any mailbox" in result.message

    @pytest.mark.parametrize("right", ["RestrictAccess", "DenyAccess"])
    def test_an_application_access_policy_scopes_it(self, right):
        policy = {"AppId": APP.upper(), "AccessRight": right, "ScopeName": "SG-Senders"}
        (result,) = judged([app()], [policy]).results
        assert result.status is Status.PASS and f"{right} SG-Senders" in result.message

    def test_the_baseline_approves_it_with_an_owner(self):
        approved = [{"appId": APP, "owner": "it@contoso.com", "reason": "newsletters"}]
        (result,) = judged([app()], mailApps=approved).results
        assert result.status is Status.PASS and "owned by it@contoso.com" in result.message

    def test_another_apps_approval_does_not_count(self):
        approved = [
            {
                "appId": "22222222-aaaa-bbbb-cccc-000000000002",
                "owner": "x@y.z",
                "reason": "another app",
            }
        ]
        assert statuses_of(judged([app()], mailApps=approved)) == {"app:CRM": "fail"}

    def test_a_baseline_approving_one_app_twice_is_refused(self):
        twice = [
            {"appId": APP, "owner": "a@b.c", "reason": "one"},
            {"appId": APP.upper(), "owner": "a@b.c", "reason": "two"},
        ]
        with pytest.raises(AuditInputError, match=r"\$\.mailApps\[1\]\.appId"):
            make_baseline(mailApps=twice)


class TestCollector:
    @responses.activate
    def test_mail_roles_of_both_resources_and_their_holders(self):
        graph_roles = [
            {"id": "r-send", "value": "Mail.Send"},
            {"id": "r-read", "value": "User.Read.All"},
        ]
        exo_roles = [{"id": "r-full", "value": "full_access_as_app"}]
        responses.get(
            f"{GRAPH}/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')",
            json={"id": "graph-sp", "appRoles": graph_roles},
        )
        responses.get(
            f"{GRAPH}/servicePrincipals/graph-sp/appRoleAssignedTo",
            json={
                "value": [
                    {
                        "appRoleId": "r-send",
                        "principalId": "crm",
                        "principalType": "ServicePrincipal",
                        "createdDateTime": "2026-10-02T14:11:00.1234567Z",
                    },
                    {
                        "appRoleId": "r-read",
                        "principalId": "crm",
                        "principalType": "ServicePrincipal",
                    },
                    {"appRoleId": "r-send", "principalId": "u1", "principalType": "User"},
                ]
            },
        )
        responses.get(
            f"{GRAPH}/servicePrincipals(appId='00000002-0000-0ff1-ce00-000000000000')",
            json={"id": "exo-sp", "appRoles": exo_roles},
        )
        responses.get(
            f"{GRAPH}/servicePrincipals/exo-sp/appRoleAssignedTo",
            json={
                "value": [
                    {
                        "appRoleId": "r-full",
                        "principalId": "crm",
                        "principalType": "ServicePrincipal",
                    }
                ]
            },
        )
        responses.get(
            f"{GRAPH}/servicePrincipals/crm",
            json={
                "id": "crm",
                "appId": APP,
                "displayName": "CRM",
                "publisherName": "Contoso",
                "verifiedPublisher": {"displayName": None},
                "keyCredentials": ["dropped"],
            },
        )
        ctx = CollectContext(
            graph=GraphClient(
                HttpClient(RetryPolicy(max_attempts=1)), lambda: "t", "https://graph.test"
            ),
            exchange=None,
            now=datetime(2026, 11, 20, tzinfo=UTC),
        )
        (crm,) = mail_apps(ctx)
        assert crm == {
            "id": "crm",
            "appId": APP,
            "displayName": "CRM",
            "publisherName": "Contoso",
            "verifiedPublisher": None,
            "permissions": [
                {
                    "resource": "Microsoft Graph",
                    "permission": "Mail.Send",
                    "grantedAt": "2026-10-02T14:11:00Z",
                },
                {
                    "resource": "Office 365 Exchange Online",
                    "permission": "full_access_as_app",
                    "grantedAt": None,
                },
            ],
        }
