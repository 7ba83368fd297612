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


PHISHING_RESISTANT = {
    "id": "00000000-0000-0000-0000-000000000004",
    "displayName": "Phishing-resistant MFA",
    "requirementsSatisfied": "mfa",
    "allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"],
}


def strength(name, requirements="mfa", combinations=None):
    return {
        "id": f"s-{name}",
        "displayName": name,
        "requirementsSatisfied": requirements,
        **({"allowedCombinations": combinations} if combinations is not None else {}),
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

    def test_a_phishing_resistant_strength_requires_mfa(self):
        result = one(
            adm001(
                [assign(user("erin"))],
                registration=[registered("erin")],
                policies=[policy(controls=(), strength=PHISHING_RESISTANT)],
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


class TestConditionalAccessReadInFull:
    """A policy covers an admin only as far as all its data says: app exclusions, guest
    settings and the real strength of an authentication strength."""

    def erin(self, *policies, user_type="member", upn="erin"):
        admin = user(upn)
        details = {**registered(upn), "userType": user_type}
        return one(adm001([assign(admin)], registration=[details], policies=list(policies)))

    @pytest.mark.parametrize(
        ("combinations", "single"),
        [
            (["password"], "password"),
            (["password,microsoftAuthenticatorPush", "sms"], "sms"),
            (["fido2", "email"], "email"),
        ],
    )
    def test_a_strength_allowing_a_single_factor_is_not_mfa(self, combinations, single):
        result = self.erin(policy(controls=(), strength=strength("Weak", "mfa", combinations)))
        assert result.status is Status.FAIL
        assert "no enabled Conditional Access policy requiring MFA applies" in result.message

    def test_a_strength_that_does_not_satisfy_mfa_is_not_mfa(self):
        weak = strength("Password only", "none", ["password"])
        assert self.erin(policy(controls=(), strength=weak)).status is Status.FAIL

    def test_an_empty_strength_is_not_mfa(self):
        assert self.erin(policy(controls=(), strength=strength("Empty", "mfa", []))).status is (
            Status.FAIL
        )

    def test_a_strength_whose_combinations_are_unknown_cannot_be_judged(self):
        result = self.erin(policy(controls=(), strength={"id": "s-1", "displayName": "Custom"}))
        assert result.status is Status.ERROR
        assert "the combinations of authentication strength 'Custom' were not collected" in (
            result.message
        )

    def test_mfa_or_a_single_factor_strength_can_be_passed_without_mfa(self):
        weak = strength("Weak", "mfa", ["password"])
        result = self.erin(policy(controls=("mfa",), operator="OR", strength=weak))
        assert result.status is Status.FAIL

    def test_mfa_and_a_strength_requires_mfa(self):
        weak = strength("Weak", "mfa", ["password"])
        result = self.erin(policy(controls=("mfa",), operator="AND", strength=weak))
        assert result.status is Status.PASS

    def test_excluded_apps_make_a_policy_conditional_and_are_named(self):
        scoped = policy(apps=("All",))
        scoped["conditions"]["applications"]["excludeApplications"] = ["app-portal"]
        result = self.erin(scoped)
        assert result.status is Status.FAIL
        assert "not the apps it excludes: app-portal" in result.message

    def test_a_guest_admin_excluded_as_a_guest_is_not_covered(self):
        excluding = policy(
            excludeGuestsOrExternalUsers={
                "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                "externalTenants": {"membershipKind": "all"},
            }
        )
        result = self.erin(excluding, user_type="guest", upn="erin_x.example#EXT#")
        assert result.status is Status.FAIL
        assert "excluded from 'Require MFA'" in result.message
        assert result.evidence["externalUserType"] == "b2bCollaborationGuest"

    def test_a_member_admin_is_not_touched_by_guest_exclusions(self):
        excluding = policy(
            excludeGuestsOrExternalUsers={
                "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                "externalTenants": {"membershipKind": "all"},
            }
        )
        assert self.erin(excluding).status is Status.PASS

    def test_guests_of_named_tenants_cannot_be_judged_for_a_b2b_admin(self):
        excluding = policy(
            excludeGuestsOrExternalUsers={
                "guestOrExternalUserTypes": "b2bCollaborationGuest",
                "externalTenants": {"membershipKind": "enumerated", "members": ["t-1"]},
            }
        )
        result = self.erin(excluding, user_type="guest", upn="erin_x.example#EXT#")
        assert result.status is Status.ERROR
        assert "excludes guests of some external tenants" in result.message

    def test_a_policy_for_guests_of_all_tenants_covers_a_guest_admin(self):
        for_guests = policy(
            includeUsers=[],
            includeGuestsOrExternalUsers={
                "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                "externalTenants": {"membershipKind": "all"},
            },
        )
        assert self.erin(for_guests, user_type="guest", upn="erin_x.example#EXT#").status is (
            Status.PASS
        )
        assert self.erin(for_guests).status is Status.FAIL  # a member is not a guest


def adm002(*policies, defaults=False, **baseline):
    return one(
        judge(
            "ADM-002",
            {
                "graph.conditionalAccessPolicies": list(policies),
                "graph.securityDefaults": {"isEnabled": defaults},
                "graph.roleAssignments": [],
            },
            **baseline,
        )
    )


class TestPostureReadInFull:
    def test_excluded_apps_mean_not_enforced_for_every_app(self):
        scoped = policy()
        scoped["conditions"]["applications"]["excludeApplications"] = ["app-portal"]
        result = adm002(scoped)
        assert result.status is Status.FAIL
        assert "not the apps it excludes: app-portal" in result.message

    def test_excluded_guests_are_named_as_an_exclusion(self):
        excluding = policy(
            excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest"}
        )
        result = adm002(excluding)
        assert result.status is Status.FAIL
        assert "guests and external users (b2bCollaborationGuest)" in result.message

    def test_a_single_factor_strength_does_not_enforce_mfa(self):
        weak = strength("Weak", "mfa", ["password"])
        assert adm002(policy(controls=(), strength=weak)).status is Status.FAIL

    def test_a_strength_of_unknown_combinations_is_an_error(self):
        result = adm002(policy(controls=(), strength={"id": "s-1", "displayName": "Custom"}))
        assert result.status is Status.ERROR
        assert "cannot tell whether these policies require MFA" in result.message

    def test_a_phishing_resistant_strength_enforces_mfa(self):
        assert adm002(policy(controls=(), strength=PHISHING_RESISTANT)).status is Status.PASS
