"""``GET business-accounts/``: the company, its numbers with their quota, its approved templates.

Answered in the nested shape of the reference's example (``businessAccounts[]``
holding ``phoneNumbers[]`` and ``templates[]``), from the same data ``send``
checks against, and with each number's quota counted at the clock's time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._data import PhoneNumber, Template
from ._common import Reply, Request, ok

if TYPE_CHECKING:
    from .._state import EmulatorState


def get(state: EmulatorState, request: Request) -> Reply:
    """The account as the API key sees it."""
    data = request.data
    return ok(
        {
            "companyName": data.company_name,
            "apiKeyName": data.key_name(request.api_key),
            "businessAccounts": [
                {
                    "businessAccountId": data.business_account_id,
                    "businessName": data.business_name,
                    "phoneNumbers": [_number(state, number, request) for number in data.numbers()],
                    "templates": [_template(t) for t in data.templates if t.approved],
                }
            ],
        }
    )


def _number(state: EmulatorState, number: PhoneNumber, request: Request) -> dict[str, Any]:
    quota = state.quota(number, request.now)
    return {
        "id": number.id,
        "phoneNumberId": number.phone_number_id,
        "displayPhoneNumber": number.display_phone_number,
        "verifiedName": number.verified_name,
        "isPrimary": number.is_primary,
        "messagingLimitTier": number.tier,
        "quota": {
            "dailyLimit": quota.daily_limit,
            "uniqueNumbersSent24h": quota.unique_numbers_sent_24h,
            "remaining": quota.remaining,
            "usagePercentage": quota.usage_percentage,
            "canSend": quota.can_send,
        },
    }


def _template(template: Template) -> dict[str, Any]:
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "variables": [
            {
                "name": variable.name,
                "type": variable.type,
                "position": variable.position,
                "isRequired": variable.required,
                "component": variable.component,
            }
            for variable in template.variables
        ],
    }
