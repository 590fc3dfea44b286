"""estates._template_cache: compiled Jinja templates kept between runs, only for imports, never for rendered data."""

from __future__ import annotations

import threading
from pathlib import Path

import jinja2
import pytest

import estates._template_cache as cache

SOURCE = "{% macro script(this) %}var {{ this.name }} = {{ this.value|tojson }};{% endmacro %}"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path)
    return tmp_path


def _render(template: jinja2.Template) -> str:
    class This:
        name = "layer_1"
        value = {"a": [1, 2]}

    return str(template.module.script(This()))


def test_templates_compiled_in_the_block_are_stored_and_read_back(cache_dir: Path) -> None:
    original = jinja2.Environment.compile
    plain = _render(jinja2.Template(SOURCE))

    with cache.compiled_templates():
        first = _render(jinja2.Template(SOURCE))
    assert jinja2.Environment.compile is original  # Jinja is left as it was
    files = list(cache_dir.glob("jinja-*.marshal"))
    assert len(files) == 1

    compiled: list[str] = []

    def refuse(self: jinja2.Environment, source: object, *args: object, **kwargs: object) -> object:
        compiled.append(str(source))
        return original(self, source, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jinja2.Environment, "compile", refuse)
        with cache.compiled_templates():
            again = _render(jinja2.Template(SOURCE))
    assert SOURCE not in compiled  # the second "start" read the compiled template from the file
    assert plain == first == again == 'var layer_1 = {"a": [1, 2]};'


def test_other_threads_and_later_renders_never_reach_the_cache(cache_dir: Path) -> None:
    data = "{{ 'register text: Old Town Hall' }}"
    seen: list[str] = []

    def other_thread() -> None:
        seen.append(jinja2.Template(data).render())

    with cache.compiled_templates():
        jinja2.Template(SOURCE)
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    jinja2.Template(data).render()  # after the block: plain Jinja

    assert seen == ["register text: Old Town Hall"]
    stored = b"".join(p.read_bytes() for p in cache_dir.glob("jinja-*.marshal"))
    assert b"Old Town Hall" not in stored


def test_a_damaged_or_unwritable_cache_only_means_compiling(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir.mkdir(exist_ok=True)
    cache._cache_file().write_bytes(b"not marshal data")
    with cache.compiled_templates():
        assert _render(jinja2.Template(SOURCE)) == 'var layer_1 = {"a": [1, 2]};'

    monkeypatch.setattr(cache, "CACHE_DIR", cache_dir / "missing" / "\0bad")
    with cache.compiled_templates():
        assert _render(jinja2.Template(SOURCE)) == 'var layer_1 = {"a": [1, 2]};'


def test_settings_that_change_the_generated_code_are_part_of_the_key() -> None:
    assert cache._key(jinja2.Environment(), SOURCE) != cache._key(jinja2.Environment(autoescape=True), SOURCE)
    assert cache._key(jinja2.Environment(), SOURCE) != cache._key(jinja2.Environment(), SOURCE + " ")
    assert cache._key(jinja2.Environment(), SOURCE) == cache._key(jinja2.Environment(), SOURCE)
