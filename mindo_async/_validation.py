"""Client-side validation: every problem of a request, found before any I/O."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs
import phonenumbers

from ._errors import InvalidRequestError
from ._models import SendRequest

if TYPE_CHECKING:
    from .types.bulk_sends import BulkSendRequest

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DIGITS = re.compile(r"[0-9]+")
# Meta: template names are lowercase letters, digits and underscores, up to 512 characters.
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
# Meta's language codes: "es", "en", "fil", "pt_BR", "en_US", "zh_HK".
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2,3})?")
#: Button variable keys: ``button_`` and the button's position, from 0 (``button_0``, ...).
BUTTON_KEY = re.compile(r"button_(?:0|[1-9][0-9]{0,2})")
#: Template variable names, as the ``mindo`` command accepts them: lowercase letters,
#: digits and underscores (Meta's rule for named template parameters; positional
#: templates use "1", "2", ...). ``SendRequest`` itself is not held to it: the
#: library sends whatever names the caller gives.
VARIABLE_NAME = re.compile(r"[a-z0-9_]+")


def suggested_variable_name(name: str) -> str:
    """``name`` made into a variable name (``"First Name"`` -> ``"first_name"``); may be empty."""
    return re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")


def variable_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a template variable's name, or ``None`` when it can.

    The one rule of the ``mindo`` command, for ``mindo send --var NAME=VALUE``
    and for the columns (or keys) of a ``mindo bulk`` file: lowercase letters,
    digits and underscores. The text is the reason only; callers say which flag
    or column it is about.
    """
    if VARIABLE_NAME.fullmatch(name) is not None:
        return None
    suggestion = suggested_variable_name(name)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return f"variable names are lowercase letters, digits and underscores{hint}"


def phone_problem(value: object) -> str | None:
    """Why ``value`` is not an acceptable recipient, or ``None`` when it is."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "is required"
    if _E164.fullmatch(value) is None:
        return (
            "must be in international format: '+' then 7 to 15 digits, no spaces,"
            " letters or extensions (e.g. +5491112345678)"
        )
    if _surely_valid_e164(value):
        return None
    number = _parse_plain_e164(value)
    if number is None:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return "is not a valid phone number"
    if not valid_number(number):
        return "is not a valid phone number for its country code"
    return None


def valid_number(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number(number)``, in one or a few regex matches.

    libphonenumber finds a number valid when it matches its region's general
    pattern and the pattern of one type, trying ten types one by one (about
    fifteen microseconds a number; up to 85 for a country code several regions
    share, +1, +44, +7, ...). The per-country-code patterns of _country (see
    _surely_valid_e164) give its answer in one match, or one per region tried;
    a country code without them is handed to ``is_valid_number``. The test
    suite checks both agree.
    """
    code = number.country_code
    if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        country = _country(code, len(str(code)))
        if country is not None:
            national = (
                str(number.national_number)
                if not number.italian_leading_zero
                else phonenumbers.national_significant_number(number)
            )
            if country.validity is not None:
                return country.validity.fullmatch(national) is not None
            return _valid_in_regions(national, country.regions)
    return bool(phonenumbers.is_valid_number(number))


# phonenumbers.parse costs about 25 us a number, most of it spent on what an
# E.164 string cannot contain (letters, punctuation, extensions, non-ASCII
# digits). For '+' and digits, parse only splits off the country code and then,
# in rare cases, rewrites the rest: strips a national prefix or carrier code, or
# keeps leading zeros. _parse_plain_e164 builds the same PhoneNumber when no such
# rewrite can happen, and hands every other number to parse itself; the test
# suite checks both agree on numbers of every country code.


@functools.cache
def _prefix_rewrite(country_code: int) -> re.Pattern[str] | None:
    """A pattern that matches (from the start) every national number of
    ``country_code`` that parse may rewrite; ``None`` when it rewrites none.

    parse matches the national-prefix pattern against the number: without a
    transform rule it strips what the first match consumed, if anything; with
    one it rewrites the number unless the match consumed nothing and its last
    group took no part. The pattern returned matches when some match of the
    national-prefix pattern does that (not only the first one), so it may send
    a number parse would leave alone to parse, never the other way round.
    """
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return re.compile("")  # no metadata: leave every number to parse
    prefix = metadata.national_prefix_for_parsing
    if not prefix:
        return None
    if not metadata.national_prefix_transform_rule:
        return re.compile(rf"(?:{prefix})(?<=.)")  # consumed at least one digit
    last_group = re.compile(prefix).groups
    if last_group == 0:
        return re.compile(prefix)  # any match is rewritten
    # The last group took part, or else at least one digit was consumed.
    return re.compile(rf"(?:{prefix})(?({last_group})|(?<=.))")


def check_region(region: object) -> str | None:
    """``region`` as an upper-case ISO 3166 code libphonenumber knows (``"AR"``), or ``None``.

    Raises ``ValueError`` for anything else; an empty string means no region.
    """
    if region is None or region == "":
        return None
    if not isinstance(region, str) or region.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"default_region must be a two-letter country code such as 'AR', not {region!r}"
        )
    return region.strip().upper()


def phone_to_e164(
    value: object, default_region: str | None = None
) -> tuple[str | None, str | None]:
    """``(e164, None)`` for an acceptable recipient, ``(None, why)`` otherwise.

    Without ``default_region`` only the international E.164 form is accepted, as
    is. With it, national and loosely written forms are read as libphonenumber
    reads them for that region (``011 15-2345-6789``, ``+54 9 11 2345-6789`` and
    ``5491123456789`` are all ``+5491123456789`` with ``"AR"``); a number that
    is still not a valid number is refused with the reason.
    """
    if default_region is None or (isinstance(value, str) and _E164.fullmatch(value)):
        problem = phone_problem(value)
        return (None, problem) if problem is not None else (str(value), None)
    if not isinstance(value, str):
        return None, f"must be a string, not {type(value).__name__}"
    if not value.strip():
        return None, "is required"
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        detail = str(exc).partition(") ")[2].rstrip(".") or "unreadable"
        return None, f"is not a phone number ({detail})"
    if number.extension:
        return None, "must not have an extension"
    if not valid_number(number):
        return None, f"is not a valid phone number (read with default region {default_region})"
    return phonenumbers.format_number(number, _E164_FORMAT), None


_E164_FORMAT = phonenumbers.PhoneNumberFormat.E164


def _parse_plain_e164(value: str) -> phonenumbers.PhoneNumber | None:
    """``phonenumbers.parse(value, None)`` for a ``+digits`` string, when it is sure
    to leave the national number as written; ``None`` when only parse can tell."""
    digits = value[1:]
    codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in codes:
            break
    else:
        return None
    national = digits[size:]
    if len(national) < 2 or national[0] == "0":
        # Too short, or leading zeros (Italy and others) that parse records.
        return None
    rewrite = _prefix_rewrite(country_code)
    if rewrite is not None and rewrite.match(national) is not None:
        return None  # a national prefix or carrier code that parse may strip
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))


# Deciding that an E.164 string is valid without building a PhoneNumber.
#
# _parse_plain_e164 and valid_number cost about 350 bytecode instructions a
# number: a PhoneNumber, metadata look-ups, three matches. _surely_valid_e164
# answers the same question from data computed once per country code, with
# one or two regex matches:
#
# - the country code and national number are split as parse splits them (the
#   first 1, 2 or 3 digits that are a country code; _E164 guarantees at least
#   seven digits, so the first four always hold the code and the national
#   number's first digit), and the number must meet
#   the conditions of _parse_plain_e164 (no leading zero, no national prefix
#   or carrier code that parse could strip or rewrite), or it is left to the
#   full path;
# - validity is is_valid_number's own rule: the number belongs to the first
#   region of its country code (in libphonenumber's order) whose leading
#   digits start it or, for a region without leading digits, whose patterns it
#   matches, and it is valid when it matches that region's general description
#   and the description of one type (premium rate, toll free, ..., fixed line,
#   mobile). A number matches a description when its length is one of the
#   description's possible lengths (if it lists any) and the pattern fully
#   matches it (_is_number_matching_desc). Each region's rule is one regex
#   (_validity_pattern): each description becomes a look-ahead on the length
#   followed by its pattern; the general one a look-ahead, the types
#   alternatives. A full match of it is a match of the general description and
#   of one type, as the matching is existential (backtracking tries every
#   alternative).
#
# It only ever answers True for a number the full path finds valid; False
# sends the number to the full path, which gives the answer and its message.
# The test suite checks, for numbers of every country code, that it answers
# True exactly when parse + is_valid_number accept a number _parse_plain_e164
# can parse.

#: The number types _number_type_helper tries, in its order (mobile comes last,
#: and only when its pattern differs from fixed line's).
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class _Country(NamedTuple):
    """What _surely_valid_e164 needs to know of one country code."""

    #: Where the national number starts in the E.164 string (after '+' and the code).
    national_start: int
    #: Matches the national numbers parse may rewrite (``_prefix_rewrite``).
    rewrite: re.Pattern[str] | None
    #: With a single region, its validity pattern; ``None`` otherwise.
    validity: re.Pattern[str] | None
    #: With several regions: each one's leading-digits pattern (or ``None``) and
    #: region code, in libphonenumber's order.
    regions: tuple[tuple[re.Pattern[str] | None, str], ...]


def _desc_regex(desc: phonenumbers.PhoneNumberDesc | None) -> str | None:
    """A regex that fully matches what ``_is_number_matching_desc(number, desc)``
    accepts, or ``None`` when it accepts nothing."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = sorted(desc.possible_length)
    if not lengths:
        return f"(?:{desc.national_number_pattern})"
    if all(length < 0 for length in lengths):  # -1: "no number of this type"
        return None
    admitted = "|".join(f"[0-9]{{{length}}}" for length in lengths if length >= 0)
    return rf"(?=(?:{admitted})\Z)(?:{desc.national_number_pattern})"


def _validity_pattern(metadata: phonenumbers.PhoneMetadata) -> re.Pattern[str] | None:
    """A regex that fully matches exactly the numbers ``_number_type_helper`` gives
    a type (anything but UNKNOWN) with ``metadata``; ``None`` when there are none."""
    general = _desc_regex(metadata.general_desc)
    descs = [getattr(metadata, name) for name in _NUMBER_TYPES]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    types = [regex for regex in map(_desc_regex, descs) if regex is not None]
    if general is None or not types:
        return None
    return re.compile(rf"(?={general}\Z)(?:{'|'.join(types)})")


def _region_rule(metadata: phonenumbers.PhoneMetadata) -> tuple[re.Pattern[str] | None, str]:
    """A region's leading-digits pattern (or ``None``) and region code."""
    leading = metadata.leading_digits
    return None if leading is None else re.compile(leading), metadata.id


@functools.cache
def _region_validity(region: str) -> re.Pattern[str] | None:
    """The validity pattern of a region of a shared country code, compiled when a
    number first needs it (the 25 regions of +1 take a tenth of a second)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return None if metadata is None else _validity_pattern(metadata)


@functools.cache
def _country(country_code: int, code_length: int) -> _Country | None:
    """The data of ``country_code``; ``None`` when only the full path can judge its numbers."""
    rewrite = _prefix_rewrite(country_code)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    found: list[tuple[re.Pattern[str] | None, str]] = []
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, region.upper()
        )
        if metadata is None:
            if len(regions) == 1:
                return None
            continue  # as _region_code_for_number_from_list skips it
        if region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY and (
            metadata.country_code != country_code
        ):
            return None  # is_valid_number_for_region refuses these: leave them to it
        if len(regions) == 1:
            # The number's region whatever its leading digits.
            return _Country(code_length + 1, rewrite, _validity_pattern(metadata), ())
        found.append(_region_rule(metadata))
    return _Country(code_length + 1, rewrite, None, tuple(found))


@functools.cache
def _country_of(first_digits: str) -> _Country | None:
    """The country of an E.164 number whose first four digits are ``first_digits``:
    the first 1, 2 or 3 digits that are a country code, as parse finds it.
    ``None`` when there is none, or when the national number starts with a zero
    (parse records leading zeros: the full path reads those)."""
    for size in (1, 2, 3):
        country_code = int(first_digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return None if first_digits[size] == "0" else _country(country_code, size)
    return None


def _surely_valid_e164(value: str) -> bool:
    """Whether ``value``, a string ``_E164`` fully matches, is a valid number:
    ``True`` only when it is; ``False`` when it is not, or only the full path
    can tell (see above)."""
    country = _country_of(value[1:5])
    if country is None:
        return False
    start, rewrite, validity, regions = country
    national = value[start:]
    if rewrite is not None and rewrite.match(national) is not None:
        return False  # a national prefix or carrier code that parse may strip
    if validity is not None:
        return validity.fullmatch(national) is not None
    return _valid_in_regions(national, regions)


def _valid_in_regions(
    national: str, regions: tuple[tuple[re.Pattern[str] | None, str], ...]
) -> bool:
    """is_valid_number for a country code several regions share: the number belongs
    to the first region whose leading digits start it or, for a region without
    leading digits, where it is valid (_region_code_for_number_from_list), and
    it is valid when it is valid there."""
    for leading, region in regions:
        if leading is not None:
            if leading.match(national) is not None:
                pattern = _region_validity(region)
                return pattern is not None and pattern.fullmatch(national) is not None
        else:
            pattern = _region_validity(region)
            if pattern is not None and pattern.fullmatch(national) is not None:
                return True
    return False


#: Python refuses to write an int of more than 4,300 digits as text (CVE-2020-10735,
#: ``sys.get_int_max_str_digits``); no template variable needs one near that long.
_MAX_INT_DIGITS = 4300
# An int below 2**_MAX_INT_BITS has at most 4,300 digits (log2(10) > 3.32).
_MAX_INT_BITS = int(_MAX_INT_DIGITS * 3.32)


def _unencodable(value: str) -> bool:
    """Whether ``value`` cannot be sent as UTF-8 (it holds a lone surrogate)."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_NOT_UTF8 = "holds a character that cannot be sent as UTF-8 (a lone surrogate)"


def _text_problem(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return f"must be text or a number, not {value!r}"
    if isinstance(value, str):
        if not value.strip():
            return "must not be empty"
        return _NOT_UTF8 if _unencodable(value) else None
    if isinstance(value, int):
        if value.bit_length() >= _MAX_INT_BITS and len(_int_text(abs(value))) > _MAX_INT_DIGITS:
            return f"is a number of more than {_MAX_INT_DIGITS:,} digits; send it as text"
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "must be a finite number"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    return f"must be text or a number, not {type(value).__name__}"


def _int_text(value: int) -> str:
    """The digits of ``value``, or more than ``_MAX_INT_DIGITS`` characters when Python
    refuses to write them."""
    try:
        return str(value)
    except ValueError:
        return "9" * (_MAX_INT_DIGITS + 1)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# Most requests of a campaign are valid, with plain text variables and an E.164
# recipient. _plainly_valid says so in a fraction of request_problems' cost:
# no problems dict, no closure, no PhoneNumber, no Python loop per variable.
# It applies request_problems' own checks, only run together, and answers
# False (so that request_problems runs, finds the problems and words them) for
# anything it does not decide on the spot: variables that are not all text, a
# mapping that is not a dict, a number only libphonenumber's full path can
# judge. What keeps it equal to request_problems:
#
# - the four fields are joined with NUL and fully matched by their four
#   patterns joined with NUL: no pattern matches a NUL, so the joined string
#   matches exactly when each field matches its own pattern; str.join accepts
#   exactly what isinstance(field, str) accepts (TypeError otherwise);
# - a dict's keys and values are all text when joining them raises no
#   TypeError; none is blank when ``x.strip()`` of each is true (the same call
#   as request_problems'); they are all encodable when their concatenation is
#   (a lone surrogate stays one when strings are concatenated). A str subclass
#   is read as its text, as str.join and the regexes read it: its own strip()
#   is asked, but not an override of isascii() or encode() (which only a
#   subclass lying about its own text could notice).
#
# The test suite checks that it answers True exactly when request_problems
# finds nothing, on random requests.

#: The patterns of phone_number_id, template_name, language and recipient_phone,
#: joined by NUL, for the fields joined the same way.
_PLAIN_FIELDS = re.compile(
    "\0".join(f"(?:{pattern.pattern})" for pattern in (_DIGITS, _TEMPLATE_NAME, _LANGUAGE, _E164))
)
_STRIP = operator.methodcaller("strip")


def _plain_text_dict(mapping: object) -> bool:
    """Whether ``mapping`` is a dict of non-blank text to non-blank text, all of it
    encodable as UTF-8 (``False`` when it is not, or is another kind of mapping)."""
    if type(mapping) is not dict:
        return False
    try:
        text = "".join(mapping) + "".join(mapping.values())
    except TypeError:  # a key or value that is not text
        return False
    return (
        all(map(_STRIP, mapping))
        and all(map(_STRIP, mapping.values()))
        and (text.isascii() or not _unencodable(text))
    )


def _plainly_valid(request: SendRequest) -> bool:
    """Whether ``request`` is surely valid: ``True`` only when ``request_problems``
    finds nothing; ``False`` when it finds something, or may."""
    phone = request.recipient_phone
    try:
        fields = "\0".join(
            (request.phone_number_id, request.template_name, request.language, phone)
        )
    except TypeError:  # a field that is not text
        return False
    if (
        type(phone) is not str  # phone_to_e164 answers str(phone): leave subclasses to it
        or _PLAIN_FIELDS.fullmatch(fields) is None
        or not _surely_valid_e164(phone)
    ):
        return False
    variables = request.variables
    if variables is not None and not _plain_text_dict(variables):
        return False
    buttons = request.button_variables
    return buttons is None or (
        _plain_text_dict(buttons) and all(map(BUTTON_KEY.fullmatch, buttons))
    )


def request_problems(
    request: SendRequest, default_region: str | None = None
) -> dict[str, list[str]]:
    """Every problem of ``request``, by field name; empty when it is valid.

    ``default_region``: read ``recipient_phone`` in national forms of that
    region too (see ``phone_to_e164``).
    """
    if _plainly_valid(request):
        return {}
    return _problems(request, default_region)


def _problems(request: SendRequest, default_region: str | None) -> dict[str, list[str]]:
    """``request_problems`` without the fast path: every check, every message."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    pid = request.phone_number_id
    if not isinstance(pid, str) or _DIGITS.fullmatch(pid) is None:
        add("phone_number_id", "must be a non-empty string of digits (Meta's phone number id)")

    name = request.template_name
    if not isinstance(name, str) or not name:
        add("template_name", "is required")
    elif _TEMPLATE_NAME.fullmatch(name) is None:
        add(
            "template_name",
            "must be lowercase letters, digits and underscores only (Meta's template name shape)",
        )

    language = request.language
    if not isinstance(language, str) or _LANGUAGE.fullmatch(language) is None:
        add("language", "must be a language code like 'es', 'en' or 'pt_BR'")

    _, phone = phone_to_e164(request.recipient_phone, default_region)
    if phone is not None:
        add("recipient_phone", phone)

    # Typed ``object``: callers can hand in anything, whatever the annotations say.
    variables: object = request.variables
    if variables is not None:
        if not isinstance(variables, Mapping):
            add("variables", f"must be a mapping of names to text, not {type(variables).__name__}")
        else:
            for key, value in variables.items():
                if not isinstance(key, str) or not key.strip():
                    add("variables", f"has an invalid name {key!r}: names must be non-empty text")
                    continue
                if _unencodable(key):
                    add("variables", f"has an invalid name {key!r}: it {_NOT_UTF8}")
                    continue
                problem = _text_problem(value)
                if problem is not None:
                    add(f"variables.{key}", problem)

    buttons: object = request.button_variables
    if buttons is not None:
        if not isinstance(buttons, Mapping):
            add("button_variables", f"must be a mapping, not {type(buttons).__name__}")
        else:
            for key, value in buttons.items():
                if not isinstance(key, str) or BUTTON_KEY.fullmatch(key) is None:
                    add(
                        "button_variables",
                        f"has an invalid key {key!r}: keys are button_0, button_1, ...",
                    )
                    continue
                if not isinstance(value, str) or not value.strip():
                    add(f"button_variables.{key}", "must be non-empty text")
                elif _unencodable(value):
                    add(f"button_variables.{key}", _NOT_UTF8)
    return problems


def validate_request(request: SendRequest, default_region: str | None = None) -> SendRequest:
    """Return ``request`` ready to send (numbers in variables become text).

    With ``default_region``, ``recipient_phone`` may be written in a national form
    of that region; the request returned holds its E.164 form, the one sent.
    Raises ``InvalidRequestError`` naming every offending field, and ``TypeError``
    when ``request`` is not a ``SendRequest`` at all; nothing is sent.
    """
    if not isinstance(request, SendRequest):
        raise TypeError(
            f"a request must be a SendRequest, not {type(request).__name__}: "
            "build one with SendRequest(phone_number_id=..., template_name=..., "
            "recipient_phone=...)"
        )
    if _plainly_valid(request):
        # Its recipient is already E.164, its variables already text.
        return request
    problems = _problems(request, default_region)
    if problems:
        raise InvalidRequestError(problems)
    if default_region is not None:
        e164, _ = phone_to_e164(request.recipient_phone, default_region)
        if e164 is not None and e164 != request.recipient_phone:
            request = attrs.evolve(request, recipient_phone=e164)
    variables = request.variables
    if variables and not all(isinstance(value, str) for value in variables.values()):
        return attrs.evolve(
            request, variables={key: _as_text(value) for key, value in variables.items()}
        )
    return request


_TOP_LEVEL = ("phone_number_id", "template_name", "language")


def _text_items(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not mapping:
        return ()
    return tuple(sorted((key, _as_text(value)) for key, value in mapping.items()))


def validate_bulk_send(
    request: BulkSendRequest, default_region: str | None = None
) -> tuple[BulkSendRequest, int]:
    """``request`` ready to send, and how many identical repeats were dropped from it.

    Every recipient passes the checks of ``send`` (E.164 phone, variables,
    button variables); numbers in variables become text. With
    ``default_region``, a phone may be written in a national form of that
    region (as for ``send``): it is sent, and compared for repeats, in its
    E.164 form. A phone repeated with
    the same variables is kept once (the API would drop it anyway); repeated
    with different variables, it is refused, naming both indexes: the API keeps
    one and does not say which. Raises ``InvalidRequestError`` naming every
    problem (``recipients[3].phone``, ...); nothing is sent.
    """
    from .types.bulk_sends import BulkRecipient

    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    recipients: object = request.recipients
    if not isinstance(recipients, tuple):
        add("recipients", f"must be a list of BulkRecipient, not {type(recipients).__name__}")
        recipients = ()
    elif not recipients:
        add("recipients", "must hold at least one recipient")
    top = SendRequest(
        phone_number_id=request.phone_number_id,
        template_name=request.template_name,
        language=request.language,
        recipient_phone="+5491112345678",
    )
    for name, messages in request_problems(top).items():
        if name in _TOP_LEVEL:
            problems[name] = messages

    kept: list[BulkRecipient] = []
    first_index: dict[str, tuple[int, tuple[Any, ...]]] = {}
    dropped = 0
    for index, recipient in enumerate(recipients):
        where = f"recipients[{index}]"
        if not isinstance(recipient, BulkRecipient):
            add(where, f"must be a BulkRecipient, not {type(recipient).__name__}")
            continue
        single = SendRequest(
            phone_number_id="1",
            template_name="t",
            recipient_phone=recipient.phone,
            variables=recipient.variables,
            button_variables=recipient.button_variables,
        )
        found = request_problems(single, default_region)
        if found:
            for name, messages in found.items():
                field = "phone" if name == "recipient_phone" else name
                for message in messages:
                    add(f"{where}.{field}", message)
            continue
        if default_region is not None:
            e164, _ = phone_to_e164(recipient.phone, default_region)
            if e164 is not None and e164 != recipient.phone:
                recipient = attrs.evolve(recipient, phone=e164)
        identity = (_text_items(recipient.variables), _text_items(recipient.button_variables))
        earlier = first_index.get(recipient.phone)
        if earlier is not None:
            if earlier[1] != identity:
                add(
                    f"{where}.phone",
                    f"repeats recipients[{earlier[0]}] with different variables "
                    "(the API keeps only one of them, and does not say which)",
                )
            else:
                dropped += 1
            continue
        first_index[recipient.phone] = (index, identity)
        variables = recipient.variables
        if variables and not all(isinstance(value, str) for value in variables.values()):
            recipient = attrs.evolve(
                recipient, variables={key: _as_text(value) for key, value in variables.items()}
            )
        kept.append(recipient)
    if problems:
        raise InvalidRequestError(problems)
    return attrs.evolve(request, recipients=tuple(kept)), dropped
