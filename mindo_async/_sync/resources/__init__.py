# GENERATED from mindo_async/resources/__init__.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""The API's resources, one module per area: where each endpoint's method lives.

``Mindo`` exposes one instance of each as an attribute (``mindo.messages``,
``mindo.bulk_sends``, ``mindo.business_accounts``, ``mindo.contacts``,
``mindo.business``), in the style of openai-python and stripe-python.
"""

from mindo_async._sync.resources.bulk_sends import SyncBulkSends
from mindo_async._sync.resources.business import SyncBusiness
from mindo_async._sync.resources.business_accounts import SyncBusinessAccounts
from mindo_async._sync.resources.contacts import SyncContacts
from mindo_async._sync.resources.messages import SyncMessages

__all__ = [
    "SyncBulkSends",
    "SyncBusiness",
    "SyncBusinessAccounts",
    "SyncContacts",
    "SyncMessages",
]
