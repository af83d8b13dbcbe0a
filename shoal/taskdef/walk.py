"""One document's walk: the warnings it collects (capped), the check that reports each key
Shoal does not act on, and the required-field lookup that spots a typo'd key."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from shoal.taskdef.fields import MAX_WARNINGS, WHY_NOT, join, suggest
from shoal.validation import ValidationError, expect_list, expect_object, quote


class Walk:
    """Collects warnings while a document is turned into the normalised dict (camelCase,
    proto3 JSON mapping) the TaskDefinition message is built from."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._dropped = 0

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
            return
        self._dropped += 1
        summary = f"... and {self._dropped} more warnings"
        if self._dropped == 1:
            self.warnings.append(summary)
        else:
            self.warnings[-1] = summary

    def check_keys(
        self,
        obj: dict[str, Any],
        base: str,
        known: frozenset[str],
        unsupported: frozenset[str] = frozenset(),
        output_only: frozenset[str] = frozenset(),
    ) -> None:
        """Warn about each key Shoal does not act on; the value stays in source_json."""
        for key in obj:
            if key in known:
                continue
            if key in unsupported:
                why = WHY_NOT.get(key)
                self.warn(f"{join(base, key)}: kept but not acted on by Shoal" + (f" ({why})" if why else ""))
            elif key in output_only:
                self.warn(f"{join(base, key)}: assigned by Shoal at registration; the value given is ignored")
            else:
                # Past the cap the warning is only counted, so the suggestion is not worth its cost.
                close = suggest(key, known | unsupported) if len(self.warnings) < MAX_WARNINGS else None
                hint = f" (did you mean {close!r}?)" if close else ""
                where = f"{base}: " if base else ""
                self.warn(f"{where}unknown field {quote(key)}{hint}; kept but not acted on by Shoal")

    def items(
        self, value: Any, field: str, most: int, known: frozenset[str], unsupported: frozenset[str] = frozenset()
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each object of the list ``value`` (at most ``most``) with its path ("field[i]"),
        its keys checked as ``check_keys`` checks them."""
        for i, item in enumerate(expect_list(value, field, max_items=most)):
            at = f"{field}[{i}]"
            obj = expect_object(item, at)
            self.check_keys(obj, at, known, unsupported)
            yield at, obj

    @staticmethod
    def required(obj: dict[str, Any], base: str, key: str, known: frozenset[str]) -> Any:
        value = obj.get(key)
        if value is None:
            unknown = itertools.islice((k for k in obj if k not in known), MAX_WARNINGS)
            typo = next((k for k in unknown if suggest(k, known) == key), None)
            hint = f" (found {quote(typo)}: a typo?)" if typo else ""
            raise ValidationError(join(base, key), f"required{hint}")
        return value
