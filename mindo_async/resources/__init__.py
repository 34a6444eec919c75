"""The API's resources, one module per area: where each endpoint's method lives.

``AsyncMindo`` exposes one instance of each as an attribute (``mindo.messages``,
``mindo.bulk_sends``, ``mindo.business_accounts``, ``mindo.contacts``,
``mindo.business``), in the style of openai-python and stripe-python.
"""

from .bulk_sends import AsyncBulkSends
from .business import AsyncBusiness
from .business_accounts import AsyncBusinessAccounts
from .contacts import AsyncContacts
from .messages import AsyncMessages

__all__ = [
    "AsyncBulkSends",
    "AsyncBusiness",
    "AsyncBusinessAccounts",
    "AsyncContacts",
    "AsyncMessages",
]
