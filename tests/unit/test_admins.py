"""ADM-001: every privileged admin registered for MFA and required to use it."""

import pytest

from auditor.judge.engine import run_check
from auditor.judge.model import Status
from auditor.judge.registry import discover
from tests.helpers import by_resource, failed, judge, make_baseline, make_snapshot, ok, statuses

GA = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE = "29232cdf-9323-42fd-ade2-1d097af3e4de"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
MESSAGE_CENTER_READER = "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b"


def user(name):
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": f"id-{name}",
        "displayName": name.title(),
        "userPrincipalName": f"{name}@example.com",
    }


def group(name):
    return {"@odata.type": "#microsoft.graph.group", "id": f"gid-{name}", "displayName": name}


def service_principal(name):
    return {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": f"spid-{name}",
        "displayName": name,
        "appId": f"app-{name}",
    }


def assign(principal, role=GA):
    return {
        "id": f"a-{principal['id'] if principal else 'x'}-{role}",
        "roleDefinitionId": role,
        "principalId": principal["id"] if principal else "deleted-id",
        "directoryScopeId": "/",
        "principal": principal,
    }


def registered(name, is_registered=True):
    return {
        "id": f"id-{name}",
        "userPrincipalName": f"{name}@example.com",
        "isMfaRegistered": is_registered,
        "methodsRegistered": ["microsoftAuthenticatorPush"] if is_registered else [],
    }


def policy(
    name="Require MFA",
    state="enabled",
    controls=("mfa",),
    operator="OR",
    strength=None,
    apps=("All",),
    client=("all",),
    locations=None,
    **users,
):
    conditions = {
        "users": {"includeUsers": ["All"], **users},
        "applications": {"includeApplications": list(apps)},
        "clientAppTypes": list(client),
    }
    if locations:
        conditions["locations"] = locations
    return {
        "id": f"p-{name}",
        "displayName": name,
        "state": state,
        "conditions": conditions,
        "grantControls": {
            "operator": operator,
            "builtInControls": list(controls),
            "authenticationStrength": strength,
        },
    }


def adm001(
    active=(), eligible=(), groups=(), registration=(), policies=(), defaults=False, **baseline
):
    return judge(
        "ADM-001",
        {
            "graph.roleAssignments": list(active),
            "graph.roleEligibilitySchedules": list(eligible),
            "graph.groupMembers": list(groups),
            "graph.userRegistrationDetails": list(registration),
            "graph.conditionalAccessPolicies": list(policies),
            "graph.securityDefaults": {"isEnabled": defaults},
        },
        **baseline,
    )


def one(outcome):
    assert len(outcome.results) == 1, outcome.results
    return outcome.results[0]


class TestAdminsWithoutMfa:
    def test_registered_admin_required_by_policy_passes(self):
        result = one(
            adm001([assign(user("alice"))], registration=[registered("alice")], policies=[policy()])
        )
        assert result.status is Status.PASS
        assert result.resource == "user:alice@example.com"
        assert "required by 'Require MFA'" in result.message

    def test_unregistered_admin_fails(self):
        result = one(
            adm001(
                [assign(user("bob"))], registration=[registered("bob", False)], policies=[policy()]
            )
        )
        assert result.status is Status.FAIL
        assert "not registered for MFA" in result.message

    def test_registered_admin_without_any_policy_fails(self):
        result = one(adm001([assign(user("carol"))], registration=[registered("carol")]))
        assert "no enabled Conditional Access policy requiring MFA applies" in result.message

    def test_security_defaults_require_mfa(self):
        result = one(
            adm001([assign(user("carol"))], registration=[registered("carol")], defaults=True)
        )
        assert result.status is Status.PASS
        assert "security defaults" in result.message

    @pytest.mark.parametrize(
        "exclusion",
        [
            {"excludeUsers": ["id-dave"]},
            {"excludeRoles": [EXCHANGE]},
            {"excludeGroups": ["gid-Exempt"]},
        ],
        ids=["by-user", "by-role", "by-group"],
    )
    def test_excluded_admin_fails(self, exclusion):
        result = one(
            adm001(
                [assign(user("dave"), EXCHANGE)],
                groups=[{"id": "gid-Exempt", "displayName": "Exempt", "members": [user("dave")]}],
                registration=[registered("dave")],
                policies=[policy(**exclusion)],
            )
        )
        assert result.status is Status.FAIL
        assert "excluded from 'Require MFA'" in result.message

    def test_report_only_and_disabled_policies_do_not_count(self):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[
                    policy("Report", "enabledForReportingButNotEnforced"),
                    policy("Off", "disabled"),
                ],
            )
        )
        assert result.status is Status.FAIL

    def test_mfa_or_another_control_does_not_require_mfa(self):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[policy(controls=("mfa", "compliantDevice"))],
            )
        )
        assert result.status is Status.FAIL

    def test_mfa_and_another_control_requires_mfa(self):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[policy(controls=("mfa", "compliantDevice"), operator="AND")],
            )
        )
        assert result.status is Status.PASS

    def test_authentication_strength_requires_mfa(self):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[policy(controls=(), strength={"id": "phishing-resistant"})],
            )
        )
        assert result.status is Status.PASS

    def test_block_policy_is_not_mfa(self):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[policy(controls=("block",))],
            )
        )
        assert result.status is Status.FAIL

    @pytest.mark.parametrize(
        ("limit", "kwargs"),
        [
            ("not all cloud apps", {"apps": ("00000002-0000-0ff1-ce00-000000000000",)}),
            ("not all client apps", {"client": ("browser",)}),
            (
                "only from some locations",
                {"locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}},
            ),
        ],
    )
    def test_conditional_policies_do_not_count(self, limit, kwargs):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[policy(**kwargs)],
            )
        )
        assert result.status is Status.FAIL
        assert limit in result.message

    def test_policy_targeting_the_role_covers_the_admin(self):
        result = one(
            adm001(
                [assign(user("alice"), SECURITY_ADMIN)],
                registration=[registered("alice")],
                policies=[policy(includeUsers=[], includeRoles=[SECURITY_ADMIN])],
            )
        )
        assert result.status is Status.PASS

    def test_policy_for_another_role_does_not_cover(self):
        result = one(
            adm001(
                [assign(user("alice"), SECURITY_ADMIN)],
                registration=[registered("alice")],
                policies=[policy(includeUsers=[], includeRoles=[GA])],
            )
        )
        assert result.status is Status.FAIL

    def test_eligible_admin_is_judged_and_role_targeting_applies(self):
        result = one(
            adm001(
                eligible=[assign(user("erin"), SECURITY_ADMIN)],
                registration=[registered("erin", False)],
                policies=[policy(includeUsers=[], includeRoles=[SECURITY_ADMIN])],
            )
        )
        assert result.status is Status.FAIL
        assert "Security Administrator (eligible)" in result.message
        assert result.evidence["roles"][0]["assignment"] == "eligible"

    def test_break_glass_account_in_baseline_is_exempt_with_its_reason(self):
        result = one(
            adm001(
                [assign(user("bg"))],
                registration=[registered("bg", False)],
                breakGlassAccounts=[
                    {
                        "userPrincipalName": "BG@example.com",
                        "reason": "Emergency access, key in safe",
                    }
                ],
            )
        )
        assert result.status is Status.PASS
        assert "Emergency access, key in safe" in result.message

    def test_group_holding_a_role_is_expanded(self):
        outcome = adm001(
            [assign(group("Helpdesk"))],
            groups=[
                {
                    "id": "gid-Helpdesk",
                    "displayName": "Helpdesk",
                    "members": [user("frank"), user("grace")],
                }
            ],
            registration=[registered("frank"), registered("grace", False)],
            policies=[policy()],
        )
        assert statuses(outcome) == {
            "user:frank@example.com": "pass",
            "user:grace@example.com": "fail",
        }
        assert "via group Helpdesk" in by_resource(outcome)["user:grace@example.com"].message

    def test_group_whose_members_were_not_collected_is_an_error(self):
        result = one(adm001([assign(group("Tier0"))], policies=[policy()]))
        assert result.status is Status.ERROR
        assert result.resource == "group:Tier0"

    def test_service_principal_is_listed_not_judged_for_mfa(self):
        result = one(adm001([assign(service_principal("Migration"), EXCHANGE)]))
        assert result.resource == "servicePrincipal:Migration"
        assert result.status is Status.PASS
        assert "MFA does not apply" in result.message
        assert result.evidence["appId"] == "app-Migration"

    def test_admin_missing_from_registration_report_is_an_error(self):
        result = one(adm001([assign(user("ghost"))], policies=[policy()]))
        assert result.status is Status.ERROR
        assert "registration report" in result.message

    def test_registration_is_found_by_upn_when_ids_differ(self):
        entry = registered("alice") | {"id": "other-id"}
        result = one(adm001([assign(user("alice"))], registration=[entry], policies=[policy()]))
        assert result.status is Status.PASS

    def test_unresolved_principal_is_an_error(self):
        result = one(adm001([assign(None)]))
        assert result.status is Status.ERROR
        assert result.resource == "principal:deleted-id"

    def test_non_privileged_roles_are_not_judged(self):
        outcome = adm001(
            [assign(user("oscar"), MESSAGE_CENTER_READER), assign(user("alice"))],
            registration=[registered("alice")],
            policies=[policy()],
        )
        assert list(statuses(outcome)) == ["user:alice@example.com"]

    def test_no_privileged_assignment_at_all_is_an_error(self):
        result = one(adm001([assign(user("oscar"), MESSAGE_CENTER_READER)]))
        assert result.status is Status.ERROR
        assert "incomplete" in result.message

    def test_exclusion_group_with_unknown_members_cannot_be_judged(self):
        result = one(
            adm001(
                [assign(user("alice"))],
                registration=[registered("alice")],
                policies=[policy(excludeGroups=["gid-unknown"])],
            )
        )
        assert result.status is Status.ERROR
        assert "cannot tell" in result.message

    def test_exclusion_group_with_unknown_members_still_fails_an_unregistered_admin(self):
        result = one(
            adm001(
                [assign(user("bob"))],
                registration=[registered("bob", False)],
                policies=[policy(excludeGroups=["gid-unknown"])],
            )
        )
        assert result.status is Status.FAIL

    def test_policy_including_a_known_group_covers_its_members(self):
        result = one(
            adm001(
                [assign(user("alice"))],
                groups=[{"id": "gid-Admins", "displayName": "Admins", "members": [user("alice")]}],
                registration=[registered("alice")],
                policies=[policy(includeUsers=[], includeGroups=["gid-Admins"])],
            )
        )
        assert result.status is Status.PASS

    def test_one_result_per_admin_holding_several_roles(self):
        outcome = adm001(
            [assign(user("alice")), assign(user("alice"), EXCHANGE)],
            eligible=[assign(user("alice"), SECURITY_ADMIN)],
            registration=[registered("alice")],
            policies=[policy()],
        )
        result = one(outcome)
        assert len(result.evidence["roles"]) == 3


def test_missing_p1_licence_makes_the_check_error_with_that_reason():
    snapshot = make_snapshot(
        {
            "graph.roleAssignments": ok([assign(user("alice"))]),
            "graph.roleEligibilitySchedules": ok([]),
            "graph.groupMembers": ok([]),
            "graph.userRegistrationDetails": failed(
                "403 Authentication_RequestFromNonPremiumTenantOrB2CTenant: "
                "the registration report needs Entra ID P1"
            ),
            "graph.conditionalAccessPolicies": ok([policy()]),
            "graph.securityDefaults": ok({"isEnabled": False}),
        },
        wrap=False,
    )
    outcome = run_check(discover()["ADM-001"], snapshot, make_baseline())
    assert outcome.status is Status.ERROR
    assert outcome.results == ()
    assert "needs Entra ID P1" in outcome.reason
