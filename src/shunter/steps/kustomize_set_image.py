"""The ``kustomize-set-image`` step: set ``images:`` entries of a Kustomization file.

Does what ``kustomize edit set image`` does, without the kustomize binary, with Kargo's rules:

* ``path`` is the directory holding exactly one of ``kustomization.yaml``,
  ``kustomization.yml`` or ``Kustomization`` (a regular file, not a symlink);
* each ``images[]`` entry ``{image, tag | digest, newName?, name?}`` targets the Kustomization
  image named ``name`` (default: ``image``); its ``newName``/``newTag``/``digest`` become the
  configured ones (unset fields are removed) and ``*`` keeps the value the file has;
* without ``images``, every image of the promoted FreightCollection is set (name = repo URL,
  ``newTag`` = tag and ``digest`` = digest when the Freight has them); the same repository
  coming from two Freight origins is ambiguous and an error;
* entries the step does not target are left alone; new entries are appended in name order.

The file is edited with ruamel.yaml's round trip, in the file's own indentation, keeping
comments, quoting and the lines before the first ``---`` (ruamel.yaml does drop trailing
spaces after values); it is not rewritten at all when the images are already as requested.
Output ``commitMessage``: ``Updated <path> to use new image(s)`` then
``- <newName or name>[:tag][@digest]`` per image set (no output when nothing was targeted).

Differences from Kargo: Kargo re-sorts the whole ``images`` list and re-serialises the file;
its commit message lists every image of the file, not only those the step set; its ambiguity
check looks at the Stage's Warehouse subscriptions (here: at the Freight collection).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import Field, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from shunter._internal.threads import run_in_thread
from shunter.api.v1alpha1.common import FreightCollection
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.edit.yaml_scalar import plain_is_safe
from shunter.edit.yaml_tree import detect_indentation
from shunter.promotion.effects import Effects
from shunter.promotion.registry import register
from shunter.promotion.step import (
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from shunter.steps_support.files import read_text, write_text

__all__ = [
    "KUSTOMIZATION_FILE_NAMES",
    "KustomizeImage",
    "KustomizeSetImageConfig",
    "KustomizeSetImageStep",
    "TargetImage",
    "set_kustomization_images",
]

#: File names kustomize recognises, in its order.
KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

#: A value of ``*`` keeps what the file has.
PRESERVE = "*"

_FIELDS = ("newName", "newTag", "digest")
_ORDER = ("name", *_FIELDS)
_PREAMBLE = re.compile(r"\A(?:(?:[ \t]*(?:#[^\n]*)?|%[^\n]*)\r?\n)*---[ \t]*(?:#[^\n]*)?\r?\n")


class KustomizeImage(StepConfig):
    """One image to set."""

    image: str = Field(min_length=1, description="Image (repository) Kargo subscribes to.")
    tag: str | None = Field(default=None, description="Tag to set; excludes digest.")
    digest: str | None = Field(default=None, description="Digest to set; excludes tag.")
    new_name: str | None = Field(default=None, description="Replacement image name.")
    name: str | None = Field(default=None, description="Image name in the Kustomization.")

    @model_validator(mode="after")
    def _tag_xor_digest(self) -> KustomizeImage:
        if bool(self.tag) == bool(self.digest):
            raise ValueError("exactly one of 'tag' or 'digest' must be set")
        return self


class KustomizeSetImageConfig(StepConfig):
    """Config of ``kustomize-set-image``."""

    path: str = Field(min_length=1, description="Directory holding the Kustomization file.")
    images: list[KustomizeImage] | None = None


#: A Kustomization ``images`` entry: name, newName, newTag, digest ("" = absent).
TargetImage = dict[str, str]


def _targets_from_config(images: list[KustomizeImage]) -> dict[str, TargetImage]:
    targets: dict[str, TargetImage] = {}
    for image in images:
        name = image.name or image.image
        targets[name] = {
            "name": name,
            "newName": image.new_name or "",
            "newTag": "" if image.digest else (image.tag or ""),
            "digest": image.digest or "",
        }
    return targets


def _targets_from_freight(freight: FreightCollection) -> dict[str, TargetImage]:
    targets: dict[str, TargetImage] = {}
    origins: dict[str, str] = {}
    for origin, reference in sorted((freight.items or {}).items()):
        for image in reference.images or []:
            if not image.repo_url:
                continue
            if image.repo_url in origins and origins[image.repo_url] != origin:
                raise TerminalStepError(
                    f"manual configuration required due to ambiguous result: image "
                    f"{image.repo_url!r} comes from both {origins[image.repo_url]} and {origin}"
                )
            origins[image.repo_url] = origin
            targets[image.repo_url] = {
                "name": image.repo_url,
                "newName": "",
                "newTag": image.tag or "",
                "digest": image.digest or "",
            }
    return targets


def _scalar_like(old: Any, value: str) -> str:
    """``value`` quoted like ``old`` was, or double-quoted when it must be."""
    quoted: str = value
    if isinstance(old, SingleQuotedScalarString):
        quoted = SingleQuotedScalarString(value)
    elif isinstance(old, DoubleQuotedScalarString) or not plain_is_safe(value):
        quoted = DoubleQuotedScalarString(value)
    return quoted


def _move_trailing_lines(
    source: CommentedMap, source_key: Any, target: CommentedMap, target_key: Any
) -> None:
    """Move the blank lines and comments after ``source_key``'s value to after ``target_key``'s.

    ruamel.yaml keeps what follows a value (its end-of-line comment, then blank lines and
    comment lines before the next node) on that value; when new content is added after it,
    the lines have to move to the new end or they would end up in the middle.
    """
    slot = source.ca.items.get(source_key)
    if not slot or len(slot) < 3 or not isinstance(slot[2], CommentToken):
        return
    token = slot[2]
    value = str(token.value)
    newline_at = value.find("\n")
    if newline_at < 0 or newline_at == len(value) - 1:
        return
    keep, move = value[: newline_at + 1], value[newline_at + 1 :]
    if keep.strip():
        token.value = keep
    else:
        slot[2] = None
    target.ca.items[target_key] = [
        None,
        None,
        CommentToken("\n" + move, token.start_mark, None),
        None,
    ]


def _set_field(entry: CommentedMap, field: str, value: str) -> None:
    """Set ``field``; a new key goes to its place in name/newName/newTag/digest order."""
    if field in entry:
        entry[field] = _scalar_like(entry[field], value)
        return
    keys = list(entry.keys())
    before = _ORDER[: _ORDER.index(field)]
    position = max((keys.index(k) + 1 for k in keys if k in before), default=len(keys))
    if position < len(keys):
        entry.insert(position, field, _scalar_like(None, value))
        return
    entry[field] = _scalar_like(None, value)
    if keys:
        _move_trailing_lines(entry, keys[-1], entry, field)


def _delete_field(entry: CommentedMap, field: str) -> None:
    """Remove ``field``; lines that followed it (not its own comment) stay where they were."""
    keys = list(entry.keys())
    if keys[-1] == field and len(keys) > 1:
        _move_trailing_lines(entry, field, entry, keys[-2])
    entry.ca.items.pop(field, None)
    del entry[field]


def _round_trip(text: str) -> tuple[YAML, str, str]:
    """A configured round-trip YAML, the preamble to keep verbatim, and the body to parse."""
    match = _PREAMBLE.match(text)
    preamble, body = (match.group(0), text[match.end() :]) if match else ("", text)
    indent = detect_indentation(body)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1_000_000
    yaml.indent(mapping=indent.mapping, sequence=indent.sequence, offset=indent.offset)
    return yaml, preamble, body


def set_kustomization_images(
    text: str, targets: dict[str, TargetImage]
) -> tuple[str, list[TargetImage]]:
    """``text`` with ``targets`` set in ``images``, and the entries as set (name order)."""
    yaml, preamble, body = _round_trip(text)
    try:
        doc = yaml.load(body)
    except YAMLError as exc:
        raise TerminalStepError(f"invalid Kustomization YAML: {exc}") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise TerminalStepError("the Kustomization file is not a YAML mapping")
    images = doc.get("images")
    if images is None:
        images = CommentedSeq()
        doc["images"] = images
    if not isinstance(images, CommentedSeq):
        raise TerminalStepError("'images' in the Kustomization file is not a list")
    had_images = bool(images)
    snapshot = [dict(entry) if isinstance(entry, dict) else entry for entry in images]
    existing: dict[str, CommentedMap] = {}
    for entry in images:
        if isinstance(entry, CommentedMap) and isinstance(entry.get("name"), str):
            existing.setdefault(str(entry["name"]), entry)
    applied: list[TargetImage] = []
    last_before = images[-1] if len(images) and isinstance(images[-1], CommentedMap) else None
    for name in sorted(targets):
        target = dict(targets[name])
        current = existing.get(name)
        for field in _FIELDS:
            if target[field] == PRESERVE:
                kept = current.get(field) if current is not None else None
                target[field] = "" if kept is None else str(kept)
        if current is None:
            current = CommentedMap()
            current["name"] = _scalar_like(None, name)
            images.append(current)
        for field in _FIELDS:
            if target[field]:
                _set_field(current, field, target[field])
            elif field in current:
                _delete_field(current, field)
        applied.append(target)
    new_last = images[-1] if len(images) else None
    if last_before and isinstance(new_last, CommentedMap) and new_last is not last_before:
        _move_trailing_lines(
            last_before, list(last_before.keys())[-1], new_last, list(new_last.keys())[-1]
        )
    after = [dict(entry) if isinstance(entry, dict) else entry for entry in images]
    if had_images and after == snapshot:
        return text, applied
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    out = buffer.getvalue()
    if "\r\n" in text:
        out = out.replace("\r\n", "\n").replace("\n", "\r\n")
    return preamble + out, applied


def commit_message(path: str, applied: list[TargetImage]) -> str:
    """Kargo's message: ``Updated <path> to use new image(s)`` and one line per image."""
    if not applied:
        return ""
    lines = [f"Updated {path} to use new image" + ("s" if len(applied) > 1 else ""), ""]
    for image in applied:
        ref = image["newName"] or image["name"]
        if image["newTag"]:
            ref += f":{image['newTag']}"
        if image["digest"]:
            ref += f"@{image['digest']}"
        lines.append(f"- {ref}")
    return "\n".join(lines)


def _find_kustomization(ctx: StepContext, path: str) -> tuple[Any, str]:
    directory = ctx.path(path, allow_root=True)
    if not directory.is_dir():
        raise StepError(f"{path!r} is not a directory")
    found = [directory / name for name in KUSTOMIZATION_FILE_NAMES]
    regular = [p for p in found if p.is_file() and not p.is_symlink()]
    if not regular:
        raise StepError(f"could not find any Kustomization files in {path!r}")
    if len(regular) > 1:
        names = ", ".join(p.name for p in regular)
        raise TerminalStepError(
            f"ambiguous result: found multiple Kustomization files in {path!r}: {names}"
        )
    return regular[0], f"{path.rstrip('/')}/{regular[0].name}"


def _update(ctx: StepContext, cfg: KustomizeSetImageConfig) -> list[TargetImage]:
    kustomization, shown = _find_kustomization(ctx, cfg.path)
    targets = _targets_from_config(cfg.images) if cfg.images else _targets_from_freight(ctx.freight)
    if not targets:
        return []
    file = read_text(ctx.work_dir, kustomization, shown)
    text, applied = set_kustomization_images(file.text, targets)
    write_text(file, text, shown)
    return applied


@register
class KustomizeSetImageStep:
    """Runner of ``kustomize-set-image``."""

    name: ClassVar[str] = "kustomize-set-image"
    config_model: ClassVar[type[StepConfig]] = KustomizeSetImageConfig
    default_timeout: ClassVar[timedelta | None] = None
    default_error_threshold: ClassVar[int] = 1
    external_effects: ClassVar[Effects] = Effects.NONE

    async def run(self, ctx: StepContext, config: Any) -> StepResult:
        """Set the images and describe them in ``commitMessage``."""
        cfg = KustomizeSetImageConfig.model_validate(config)
        applied = await run_in_thread(_update, ctx, cfg)
        message = commit_message(cfg.path, applied)
        output = {"commitMessage": message} if message else {}
        return StepResult(status=PromotionStepStatus.SUCCEEDED, output=output)
