"""Jinja2 integration: the live template tags, region analysis and region rendering.

A live page's template is split into *regions*: ``{% live_root %}`` (the live container),
every ``{% region "id" %}`` and every ``{% async_result key %}``. Each region is compiled
as a Jinja block, so it can be rendered alone, and knows the assigns it reads. After a
message is handled the session asks for the regions whose assigns changed and sends only
those, as ``<hx-partial>`` fragments.
"""

from __future__ import annotations

import dataclasses
import functools
import html as html_module
import math
import re
import weakref
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, Template, nodes
from jinja2.ext import Extension
from jinja2.filters import FILTERS
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.tests import TESTS
from markupsafe import Markup, escape

from .components import ComponentRegistry
from .exceptions import ConfigurationError
from .helpers import TemplateHelpers
from .wire import ATTR_MORPH_SKIP_CHILDREN, ATTR_REGION, ATTR_STREAM, ATTR_VERSION, ROOT_ID, items_markers

ROOT_BLOCK = "live_root__"
_REGION_BLOCK_PREFIX = "live_region__"
_STREAM_BLOCK_PREFIX = "live_stream__"
_STATICS_BEFORE = "__before"  # a stream's static children: blocks named after its item block
_STATICS_AFTER = "__after"
_SKIP_CHILDREN = Markup(f' {ATTR_MORPH_SKIP_CHILDREN}=""')
_DOM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-:.]*$")
_TAG = re.compile(r"^[a-z][a-z0-9\-]*$")
ALWAYS = "*"  # a dependency meaning "re-render on any change"
_REGIONS_FOR_CACHE = 1024  # sets of changed keys remembered per page
_FRAGMENTS = 256  # region renders remembered per page (see ``PageTemplate.render_region``)
_FRAGMENT_CHARS = 1_000_000  # … and at most this many characters of them

# What a region may contain and still be a pure function of the assigns it reads: its
# render can then be reused for another session whose assigns are equal. Anything else
# (macros, imports, extension nodes, ``{% do %}``) makes the region render every time.
_PURE_NODES = (
    nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Slice,
    nodes.If, nodes.For, nodes.CondExpr, nodes.BinExpr, nodes.UnaryExpr, nodes.Compare, nodes.Operand,
    nodes.Concat, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword, nodes.MarkSafe,
    nodes.MarkSafeIfAutoescape, nodes.Call, nodes.Filter, nodes.Test, nodes.Block, nodes.Include,
    nodes.Assign, nodes.AssignBlock, nodes.With, nodes.Scope, nodes.FilterBlock, nodes.Continue, nodes.Break,
)  # fmt: skip
_PURE_GLOBALS = frozenset({"range", "dict"})
_CONTEXT_NAMES = frozenset({"self", "super", "caller", "varargs", "kwargs", "__live__"})
_MISSING = object()
_STREAM_ITEM_FILTER = "live_stream_item__"  # checks each first-render item (see ``check_stream_item``)
_ITEM_HEAD = re.compile(r"\s*(?:<!--.*?-->\s*)*<[A-Za-z][^\s/>]*([^>]*)>", re.S)
_ID_ATTR = re.compile(r"""(?:^|\s)id\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")


def check_stream_item(stream: str, item_var: str, dom_id: str, html: str) -> str:
    """``html`` when its top element carries ``id="dom_id"``; a ``ConfigurationError`` otherwise.

    Without it the client cannot find the item again: a later insert of the same item shows
    it twice and a delete misses it. Only the head of the item is read.
    """
    head = html.lstrip()
    if head.startswith("<") and f' id="{escape(dom_id)}"' in head[: head.find(">")]:
        return html
    match = _ITEM_HEAD.match(html)
    if match is not None:
        for attribute in _ID_ATTR.finditer(match.group(1)):
            value = next(group for group in attribute.groups() if group is not None)
            if html_module.unescape(value) == dom_id:
                return html
    got = " ".join(head.split())
    raise ConfigurationError(
        f"stream {stream!r} item rendered without its DOM id: the item template's top element must carry "
        f'id="{{{{ dom_id }}}}", or the client cannot find the item again (a later insert shows it twice, a delete misses it)\n'
        f'Expected: a top element with id="{dom_id}", e.g. {{% live_stream {stream} as {item_var} %}}<li id="{{{{ dom_id }}}}">…</li>{{% endlive_stream %}}\n'
        f"Got: {got[:120] + '…' if len(got) > 120 else got}"
    )



def _block_name(prefix: str, dom_id: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group()):x}_", dom_id)


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """How a region is wrapped in the page: its DOM id, tag, attributes and block."""

    dom_id: str
    block: str
    tag: str = "div"
    attrs: tuple[tuple[str, str], ...] = ()
    kind: str = "region"  # region | async | root | stream
    item_var: str = ""  # streams: the name the item template uses for one item
    statics: bool = False  # streams: static children around the items ({% item %} part)

    def open_tag(self) -> str:
        return "".join(self.open_tag_parts())

    def open_tag_parts(self) -> tuple[str, str]:
        """The opening tag around where its version attribute goes (built while analysing only)."""
        prefix = f'<{self.tag} id="{escape(self.dom_id)}" {ATTR_REGION}="{self.kind}"'
        suffix = "".join(f' {name}="{escape(value)}"' for name, value in self.attrs) + ">"
        return prefix, suffix

    def close_tag(self) -> str:
        return f"</{self.tag}>"


def _blocks_only(ast: nodes.Template) -> bool:
    """Whether a template's top level is its ``extends``, then blocks and text: text after an
    ``extends`` is never output, so rendering it only adds its blocks to the context's."""
    body = ast.body
    return bool(body) and isinstance(body[0], nodes.Extends) and all(isinstance(node, (nodes.Block, nodes.Output)) for node in body[1:])


def _flat_globals(template: Template) -> dict[str, Any]:
    """A template's globals as one plain dict, read afresh (globals may be added at any time).

    Jinja keeps them as a ``ChainMap`` over the environment's; merging its maps directly is
    several times faster than reading the ``ChainMap`` key by key, as ``Template.render`` does.
    """
    chained = template.globals
    if not isinstance(chained, ChainMap):
        return dict(chained)
    merged: dict[str, Any] = {}
    for layer in reversed(chained.maps):
        merged.update(layer)
    return merged


_REGISTRIES: weakref.WeakKeyDictionary[Environment, dict[tuple[str | None, str], RegionSpec]] = weakref.WeakKeyDictionary()


def _registry(environment: Environment) -> dict[tuple[str | None, str], RegionSpec]:
    """Region specs by (template name, block name), filled as templates are parsed."""
    specs = _REGISTRIES.get(environment)
    if specs is None:
        specs = _REGISTRIES[environment] = {}
    return specs


class LiveExtension(Extension):
    """The live template tags.

    ``{% live_root %}…{% endlive_root %}`` marks the live container (one per page);
    ``{% region "id" tag="section" class="card" %}…{% endregion %}`` a region updated on
    its own; ``{% async_result org %}{% loading %}…{% failed reason %}…{% ok org %}…
    {% endasync_result %}`` the three states of an async assign, as its own region;
    ``{% live_stream posts as post id="posts" tag="ul" %}<li id="{{ dom_id }}">…</li>
    {% endlive_stream %}`` a stream container and its item template. Static children of the
    container (a header row, an empty state) stand around an ``{% item %}…{% enditem %}``
    part, as they stand next to the ``:for`` in LiveView: inserts, limits and resets never
    touch them, and a reset renders them again::

        {% live_stream posts as post tag="ul" %}
          <li id="posts-empty" class="only:block hidden">No posts yet</li>
          {% item %}<li id="{{ dom_id }}">{{ post.title }}</li>{% enditem %}
        {% endlive_stream %}
    """

    tags = {"live_root", "region", "async_result", "live_stream", "live_component"}  # noqa: RUF012 - Extension declares it so

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters[_STREAM_ITEM_FILTER] = lambda html, stream, item_var, dom_id: Markup(check_stream_item(stream, item_var, dom_id, html))

    def parse(self, parser: Parser) -> list[nodes.Node]:
        token = next(parser.stream)
        if token.value == "live_root":
            return self._parse_root(parser, token.lineno)
        if token.value == "region":
            return self._parse_region(parser, token.lineno)
        if token.value == "async_result":
            return self._parse_async_result(parser, token.lineno)
        if token.value == "live_component":
            return self._parse_component(parser, token.lineno)
        return self._parse_stream(parser, token.lineno)

    # -- helpers ---------------------------------------------------------------------
    def _options(self, parser: Parser, tag: str) -> dict[str, str]:
        options: dict[str, str] = {}
        while parser.stream.current.type != "block_end":
            parser.stream.skip_if("comma")
            name = parser.stream.expect("name").value
            parser.stream.expect("assign")
            value = parser.parse_expression()
            if not isinstance(value, nodes.Const) or not isinstance(value.value, str):
                parser.fail(f"{{% {tag} %}} option {name!r} must be a string literal", value.lineno)
            options[name.replace("_", "-")] = value.value
        return options

    def _spec(
        self, parser: Parser, lineno: int, dom_id: str, prefix: str, kind: str, options: dict[str, str], item_var: str = ""
    ) -> RegionSpec:
        if not _DOM_ID.match(dom_id):
            parser.fail(f"invalid region id {dom_id!r}: expected a letter, then letters, digits, '-', '_', ':' or '.'", lineno)
        tag = options.pop("tag", "div")
        if not _TAG.match(tag):
            parser.fail(f"invalid region tag {tag!r}: expected an HTML tag name such as 'div' or 'tbody'", lineno)
        options.pop("id", None)
        spec = RegionSpec(dom_id, _block_name(prefix, dom_id), tag, tuple(options.items()), kind, item_var)
        _registry(self.environment)[(parser.name, spec.block)] = spec
        return spec

    @staticmethod
    def _wrap(spec: RegionSpec, body: list[nodes.Node], lineno: int, open_node: nodes.Node | None = None) -> list[nodes.Node]:
        block = nodes.Block(spec.block, body, False, False).set_lineno(lineno)
        closing = nodes.Output([nodes.TemplateData(spec.close_tag())]).set_lineno(lineno)
        if open_node is not None:
            return [open_node.set_lineno(lineno), block, closing]
        # A region rendered as part of a larger render carries that render's version, so
        # the client can still tell an older fragment of it from a newer one. An attribute
        # read, not a call: a template's call goes through Jinja's ``Context.call``, the
        # dearest step of rendering these small tags.
        prefix, suffix = spec.open_tag_parts()
        live = nodes.Name("__live__", "load")
        version = nodes.Getattr(live, "version_attribute", "load")
        opening = nodes.Output([nodes.TemplateData(prefix), version, nodes.TemplateData(suffix)]).set_lineno(lineno)
        # It tells the page's components where they are; a page without components skips the
        # two calls for one attribute test each.
        tracking = nodes.Getattr(live, "tracks_components", "load")
        enter = nodes.ExprStmt(nodes.Call(nodes.Getattr(live, "enter_region", "load"), [nodes.Const(spec.dom_id)], [], None, None))
        leave = nodes.ExprStmt(nodes.Call(nodes.Getattr(live, "leave_region", "load"), [], [], None, None))
        return [
            opening,
            nodes.If(tracking, [enter], [], []).set_lineno(lineno),
            block,
            nodes.If(tracking, [leave], [], []).set_lineno(lineno),
            closing,
        ]

    # -- tags ----------------------------------------------------------------------------
    def _parse_root(self, parser: Parser, lineno: int) -> list[nodes.Node]:
        options = self._options(parser, "live_root")
        body = parser.parse_statements(("name:endlive_root",), drop_needle=True)
        spec = RegionSpec(ROOT_ID, ROOT_BLOCK, options.pop("tag", "div"), tuple(options.items()), "root")
        _registry(self.environment)[(parser.name, ROOT_BLOCK)] = spec
        # The root's opening tag carries the page token and stream URL: rendered per page.
        opener = nodes.Output([nodes.Getattr(nodes.Name("__live__", "load"), "root_tag", "load")])
        return self._wrap(spec, body, lineno, opener)

    def _parse_region(self, parser: Parser, lineno: int) -> list[nodes.Node]:
        name = parser.parse_expression()
        if not isinstance(name, nodes.Const) or not isinstance(name.value, str):
            parser.fail('{% region %} takes a string literal id: {% region "cart" %}', lineno)
        options = self._options(parser, "region")
        body = parser.parse_statements(("name:endregion",), drop_needle=True)
        spec = self._spec(parser, lineno, name.value, _REGION_BLOCK_PREFIX, "region", options)
        return self._wrap(spec, body, lineno)

    def _parse_async_result(self, parser: Parser, lineno: int) -> list[nodes.Node]:
        key = parser.stream.expect("name").value
        options = self._options(parser, "async_result")
        dom_id = options.get("id", f"async-{key}")
        parts: dict[str, tuple[str | None, list[nodes.Node]]] = {}
        parser.parse_statements(("name:loading", "name:failed", "name:ok", "name:endasync_result"))
        while True:
            section = parser.stream.expect("name").value
            if section == "endasync_result":
                break
            if section in parts:
                parser.fail(f"{{% {section} %}} appears twice in {{% async_result {key} %}}", lineno)
            target = parser.stream.expect("name").value if parser.stream.current.type == "name" else None
            body = parser.parse_statements(("name:loading", "name:failed", "name:ok", "name:endasync_result"))
            parts[section] = (target, body)
        if "ok" not in parts:
            parser.fail(f"{{% async_result {key} %}} needs an {{% ok {key} %}} part", lineno)
        value = nodes.Name(key, "load")

        def bind(target: str | None, attr: str, body: list[nodes.Node]) -> list[nodes.Node]:
            if target is None:
                return body
            assign = nodes.Assign(nodes.Name(target, "store"), nodes.Getattr(nodes.Name(key, "load"), attr, "load"))
            return [assign, *body]

        ok_target, ok_body = parts["ok"]
        loading_target, loading_body = parts.get("loading", (None, []))
        loading_body = bind(loading_target, "loading", loading_body)
        failed_target, failed_body = parts.get("failed", (None, []))
        test_ok = nodes.Getattr(value, "ok", "load")
        test_failed = nodes.Getattr(nodes.Name(key, "load"), "failed", "load")
        body_node = nodes.If(
            test_ok,
            bind(ok_target, "result", ok_body),
            [nodes.If(test_failed, bind(failed_target, "failed", failed_body), [], [])],
            loading_body,
        ).set_lineno(lineno)
        spec = self._spec(parser, lineno, dom_id, _REGION_BLOCK_PREFIX, "async", options)
        return self._wrap(spec, [body_node], lineno)

    def _parse_component(self, parser: Parser, lineno: int) -> list[nodes.Node]:
        # {% live_component TodoItem id=todo.id todo=todo %}: the class by name (a class of that
        # name in the context wins), then the assigns it is given; ``components.py`` does the rest.
        name = parser.stream.expect("name").value
        pairs: list[nodes.Pair] = []
        seen: set[str] = set()
        while parser.stream.current.type != "block_end":
            parser.stream.skip_if("comma")
            key = parser.stream.expect("name")
            if key.value in seen:
                parser.fail(f"{{% live_component {name} %}} is given {key.value!r} twice", key.lineno)
            seen.add(key.value)
            parser.stream.expect("assign")
            pairs.append(nodes.Pair(nodes.Const(key.value), parser.parse_expression()))
        place = f"{parser.name or '<template>'}, line {lineno}"
        args: list[nodes.Expr] = [nodes.Name(name, "load"), nodes.Const(name), nodes.Dict(pairs), nodes.Const(place), nodes.Name("dom_id", "load")]
        call = nodes.Call(nodes.Getattr(nodes.Name("__live__", "load"), "component", "load"), args, [], None, None)
        return [nodes.Output([call]).set_lineno(lineno)]

    def _parse_stream(self, parser: Parser, lineno: int) -> list[nodes.Node]:
        name = parser.stream.expect("name").value
        parser.stream.expect("name:as")
        item = parser.stream.expect("name").value
        options = self._options(parser, "live_stream")
        dom_id = options.get("id", name)
        options[ATTR_STREAM] = name
        options[ATTR_MORPH_SKIP_CHILDREN] = ""
        # Either the whole body is the item template, or an {% item %} part is, and what
        # stands around it are static children of the container (a header, an empty state).
        body = parser.parse_statements(("name:item", "name:endlive_stream"))
        before: list[nodes.Node] | None = None
        after: list[nodes.Node] = []
        if next(parser.stream).value == "item":
            before = body
            body = parser.parse_statements(("name:enditem",), drop_needle=True)
            after = parser.parse_statements(("name:item", "name:endlive_stream"))
            if next(parser.stream).value == "item":
                parser.fail(f"{{% live_stream {name} %}} has two {{% item %}} parts: a stream has one item template", lineno)
        spec = self._spec(parser, lineno, dom_id, _STREAM_BLOCK_PREFIX + name + "__", "stream", options, item)
        if before is not None:
            spec = _registry(self.environment)[(parser.name, spec.block)] = dataclasses.replace(spec, statics=True)
        # The item template is a block rendered once per item, with `item` and `dom_id` set;
        # each first-render item goes through the same check as a later insert.
        item_block = nodes.Block(spec.block, body, True, False).set_lineno(lineno)
        checked = nodes.FilterBlock(
            [item_block],
            nodes.Filter(None, _STREAM_ITEM_FILTER, [nodes.Const(name), nodes.Const(item), nodes.Name("dom_id", "load")], [], None, None),
        ).set_lineno(lineno)
        loop = nodes.For(
            nodes.Tuple([nodes.Name("dom_id", "store"), nodes.Name(item, "store")], "store"),
            nodes.Call(nodes.Getattr(nodes.Name("__live__", "load"), "stream_items", "load"), [nodes.Const(name)], [], None, None),
            [checked],
            [],
            None,
            False,
        ).set_lineno(lineno)
        # The container keeps its children through a morph, except in a remount's render,
        # whose items replace the dead render's (``PageContext.stream_children_attr``).
        prefix, _ = spec.open_tag_parts()
        attrs = "".join(f' {attr}="{escape(value)}"' for attr, value in spec.attrs if attr != ATTR_MORPH_SKIP_CHILDREN)
        skip = nodes.Call(nodes.Getattr(nodes.Name("__live__", "load"), "stream_children_attr", "load"), [], [], None, None)
        opening = nodes.Output([nodes.TemplateData(prefix + attrs), skip, nodes.TemplateData(">")]).set_lineno(lineno)
        content: list[nodes.Node] = [loop]
        if before is not None:
            start, end = items_markers()
            content = [
                nodes.Block(spec.block + _STATICS_BEFORE, before, True, False).set_lineno(lineno),
                nodes.Output([nodes.TemplateData(start)]).set_lineno(lineno),
                loop,
                nodes.Output([nodes.TemplateData(end)]).set_lineno(lineno),
                nodes.Block(spec.block + _STATICS_AFTER, after, True, False).set_lineno(lineno),
            ]
        return [opening, *content, nodes.Output([nodes.TemplateData(spec.close_tag())]).set_lineno(lineno)]


# ----------------------------------------------------------------------------------------
# Analysis: which regions a page has and which assigns each reads
# ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Region:
    """One region of a page: its spec, the template that owns its block, what it reads."""

    spec: RegionSpec
    owner: str  # template whose context renders the block
    deps: set[str] = field(default_factory=set)
    ancestors: tuple[str, ...] = ()
    pure: bool = True  # its render depends on nothing but the values of ``deps``
    key_names: tuple[str, ...] = ()  # ``deps`` in a fixed order, for render keys
    wrapper: tuple[str, str, str] = ("", "", "")  # opening tag around its version, closing tag

    def __post_init__(self) -> None:
        self.wrapper = (*self.spec.open_tag_parts(), self.spec.close_tag())


@dataclass(slots=True)
class StreamSlot:
    """A stream container on a page and the template that renders one of its items."""

    name: str
    spec: RegionSpec
    owner: str
    item_var: str


class PageTemplate:
    """A page template analysed into regions; renders the page or single regions."""

    def __init__(self, environment: Environment, name: str) -> None:
        self.environment = environment
        self.name = name
        self.template = environment.get_template(name)
        self.regions: dict[str, Region] = {}
        self.streams: dict[str, StreamSlot] = {}
        self._globals = set(environment.globals)
        self._chains: dict[str, list[Template]] = {}
        self._chain_names: dict[str, list[str]] = {}  # template -> it and the templates it extends, read once
        self._tables: dict[str, tuple[Template, dict[str, list[Any]]]] = {}
        self._regions_for: dict[frozenset[str], list[Region]] = {}
        self._nested: dict[str, tuple[str, ...]] = {}  # region id -> the regions inside it
        self._fragments: dict[tuple[Any, ...], str] = {}
        self._fragment_chars = 0
        self.uses_components = False  # whether the page (with what it includes) renders {% live_component %}
        self._blocks_only = False  # whether each template the page extends through holds only its extends and blocks
        self._analyse()
        reusable = environment.finalize is None  # a finalize hook may be anything
        for region in self.regions.values():
            region.pure = reusable and region.pure and ALWAYS not in region.deps
            region.key_names = tuple(sorted(region.deps))
        if ROOT_ID not in self.regions:
            raise ConfigurationError(
                f"template {name!r} has no live container: wrap the page's live content in "
                "{% live_root %}…{% endlive_root %}, or extend 'live/base.html' and fill its 'content' block"
            )

    # -- analysis --------------------------------------------------------------------------
    def _parse(self, name: str) -> nodes.Template:
        loader = self.environment.loader
        if loader is None:
            raise ConfigurationError(f"template {name!r} cannot be read: the Jinja2 environment has no loader")
        source, filename, _ = loader.get_source(self.environment, name)
        return self.environment.parse(source, name, filename)

    def _chain_asts(self, name: str) -> list[tuple[str, nodes.Template]]:
        chain: list[tuple[str, nodes.Template]] = []
        seen: set[str] = set()
        current: str | None = name
        while current is not None:
            if current in seen:
                raise ConfigurationError(f"template {name!r} extends itself through {current!r}")
            seen.add(current)
            ast = self._parse(current)
            chain.append((current, ast))
            extends = ast.find(nodes.Extends)
            if extends is None:
                current = None
            elif isinstance(extends.template, nodes.Const) and isinstance(extends.template.value, str):
                current = extends.template.value
            else:
                raise ConfigurationError(f"template {current!r}: a live page may only extend a template named by a string literal")
        return chain

    def _analyse(self) -> None:
        chain = self._walk_template(self.name, region=None, ancestors=(), seen_includes=())
        self._blocks_only = all(_blocks_only(ast) for _, ast in chain[:-1])

    def _walk_template(
        self, name: str, region: Region | None, ancestors: tuple[str, ...], seen_includes: tuple[str, ...]
    ) -> list[tuple[str, nodes.Template]]:
        chain = self._chain_asts(name)
        names = [template_name for template_name, _ in chain]
        for i, template_name in enumerate(names):  # each template's own chain is a tail of this one
            self._chain_names.setdefault(template_name, names[i:])
        effective: dict[str, tuple[str, nodes.Block]] = {}
        for template_name, ast in chain:  # most-derived first
            for block in ast.find_all(nodes.Block):
                effective.setdefault(block.name, (template_name, block))
        self._walk(chain[-1][1].body, effective, name, region, ancestors, seen_includes)
        return chain

    def _walk(
        self,
        body: Iterable[nodes.Node],
        effective: Mapping[str, tuple[str, nodes.Block]],
        owner: str,
        region: Region | None,
        ancestors: tuple[str, ...],
        seen_includes: tuple[str, ...],
    ) -> None:
        for node in body:
            self._visit(node, effective, owner, region, ancestors, seen_includes)

    def _visit(
        self,
        node: nodes.Node,
        effective: Mapping[str, tuple[str, nodes.Block]],
        owner: str,
        region: Region | None,
        ancestors: tuple[str, ...],
        seen_includes: tuple[str, ...],
    ) -> None:
        specs = _registry(self.environment)
        if region is not None and region.pure and not self._pure_node(node):
            region.pure = False
        if isinstance(node, nodes.Block):
            defined_in, block = effective.get(node.name, (owner, node))
            spec = specs.get((defined_in, node.name))
            if spec is not None and spec.kind != "stream":
                if spec.dom_id in self.regions:
                    raise ConfigurationError(f"template {self.name!r}: region id {spec.dom_id!r} is used twice on one page")
                child = Region(spec, owner, set(), ancestors)
                self.regions[spec.dom_id] = child
                self._walk(block.body, effective, owner, child, (*ancestors, spec.dom_id), seen_includes)
                return
            if spec is not None and spec.kind == "stream":
                stream_name = dict(spec.attrs)[ATTR_STREAM]
                self.streams[stream_name] = StreamSlot(stream_name, spec, defined_in, spec.item_var)
                self._walk(block.body, effective, owner, region, ancestors, seen_includes)
                return
            self._walk(block.body, effective, owner, region, ancestors, seen_includes)
            return
        if isinstance(node, nodes.Include):
            names = self._const_names(node.template)
            if names is None:
                if region is not None:
                    region.deps.add(ALWAYS)
                return
            for included in names:
                if included in seen_includes:
                    continue
                self._walk_template(included, region, ancestors, (*seen_includes, included))
            return
        if isinstance(node, nodes.Getattr) and node.attr == "component" and isinstance(node.node, nodes.Name) and node.node.name == "__live__":
            self.uses_components = True
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if region is not None and node.name not in self._globals and node.name != "__live__":
                region.deps.add(node.name)
            return
        for sub_node in node.iter_child_nodes():
            self._visit(sub_node, effective, owner, region, ancestors, seen_includes)

    def _pure_node(self, node: nodes.Node) -> bool:
        """Whether ``node`` itself renders the same for the same assigns (children aside)."""
        if not isinstance(node, _PURE_NODES):
            return False
        if isinstance(node, nodes.Name):
            return node.name not in _CONTEXT_NAMES and (node.name not in self._globals or node.name in _PURE_GLOBALS)
        if isinstance(node, nodes.Filter):  # a {% filter %} block's filter is a child node
            return node.name != "random" and node.name in FILTERS and self.environment.filters.get(node.name) is FILTERS[node.name]
        if isinstance(node, nodes.Test):
            return node.name in TESTS and self.environment.tests.get(node.name) is TESTS[node.name]
        return True

    @staticmethod
    def _const_names(expr: nodes.Expr) -> list[str] | None:
        if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
            return [expr.value]
        if isinstance(expr, (nodes.List, nodes.Tuple)):
            names = [item.value for item in expr.items if isinstance(item, nodes.Const) and isinstance(item.value, str)]
            return names if len(names) == len(expr.items) else None
        return None

    # -- rendering -------------------------------------------------------------------------
    def _chain(self, owner: str) -> list[Template]:
        chain = self._chains.get(owner)
        if chain is None:
            names = self._chain_names.get(owner) or [n for n, _ in self._chain_asts(owner)]
            chain = self._chains[owner] = [self.environment.get_template(n) for n in names]
        return chain

    def render_page(self, context: Mapping[str, Any]) -> str:
        """The whole page, as ``Template.render`` would, with the globals read as one dict.

        A page whose templates down to the one it extends last hold only their ``extends`` and
        blocks renders that last one with the block table built once (``_block_table``): what
        their own top levels would do on every render (load the template extended, add its
        blocks to the context's) is then done already.
        """
        if self._blocks_only:
            ctx = self._table_context(self.name, context)
            root = self._chain(self.name)[-1].root_render_func
        else:
            template = self.template
            globals_ = _flat_globals(template)
            ctx = Context(self.environment, {**globals_, **context}, template.name, template.blocks, globals=globals_)
            root = template.root_render_func
        try:
            return self.environment.concat(root(ctx))
        except Exception:
            self.environment.handle_exception()  # re-raises, with the template's lines in the traceback

    @property
    def is_up_to_date(self) -> bool:
        """Whether no template of the page's chain changed on disk since it was analysed (``auto_reload``)."""
        return all(template.is_up_to_date for template in self._chain(self.name))

    def _block_table(self, owner: str) -> tuple[Template, dict[str, list[Any]]]:
        table = self._tables.get(owner)
        if table is None:
            chain = self._chain(owner)
            blocks: dict[str, list[Any]] = {}
            for template in chain:  # most-derived first, as Jinja's own inheritance orders them
                for name, fn in template.blocks.items():
                    blocks.setdefault(name, []).append(fn)
            table = self._tables[owner] = (chain[0], blocks)
        return table

    def _table_context(self, owner: str, context: Mapping[str, Any]) -> Context:
        """A render's context over ``owner``'s block table, built once per template and shared:
        a block renders only; it never changes the table (nor does a layout of blocks only)."""
        template, blocks = self._block_table(owner)
        globals_ = _flat_globals(template)
        ctx = Context(self.environment, {**globals_, **context}, template.name, {}, globals=globals_)
        ctx.blocks = blocks
        return ctx

    def _render_block(self, owner: str, block: str, context: Mapping[str, Any]) -> str:
        ctx = self._table_context(owner, context)
        return "".join(ctx.blocks[block][0](ctx))

    def render_region(self, dom_id: str, context: Mapping[str, Any], version: int) -> str:
        """The region's wrapper and content, ready to be morphed over the old one.

        A pure region whose assigns are plain values (str, int, float, bool, None) renders
        once per distinct set of values: a broadcast that gives thousands of sessions the
        same value renders the region once, not once per session.
        """
        opening, closing_bracket, closing = self.regions[dom_id].wrapper
        return f'{opening} {ATTR_VERSION}="{version}"{closing_bracket}{self.render_region_inner(dom_id, context)}{closing}'

    def render_region_inner(self, dom_id: str, context: Mapping[str, Any]) -> str:
        """What the region's wrapper holds (``render_region`` without the wrapper)."""
        region = self.regions[dom_id]
        key = self._fragment_key(region, context) if region.pure else None
        inner = None if key is None else self._fragments.get(key)
        if inner is None:
            inner = self._render_block(region.owner, region.spec.block, context)
            if key is not None:
                if len(self._fragments) >= _FRAGMENTS or self._fragment_chars + len(inner) > _FRAGMENT_CHARS:
                    self._fragments.clear()
                    self._fragment_chars = 0
                self._fragments[key] = inner
                self._fragment_chars += len(inner)
        return inner

    def wrap_region(self, dom_id: str, inner: str, version: int) -> str:
        """``inner`` in the region's wrapper, carrying ``version``."""
        opening, closing_bracket, closing = self.regions[dom_id].wrapper
        return f'{opening} {ATTR_VERSION}="{version}"{closing_bracket}{inner}{closing}'

    def _fragment_key(self, region: Region, context: Mapping[str, Any]) -> tuple[Any, ...] | None:
        key: list[Any] = [region.spec.dom_id]
        for name in region.key_names:
            value = context.get(name, _MISSING)
            kind = type(value)
            if kind is float:
                key.append((kind, value, math.copysign(1.0, value)))  # -0.0 renders unlike 0.0
            elif kind in _PLAIN_VALUES:
                key.append((kind, value))  # the type too: 1, 1.0 and True are equal keys
            elif value is _MISSING and name not in self.environment.globals:
                key.append(_MISSING)  # a loop variable, or unset: the same for every session
            else:
                return None  # a value that may change in place, or a global added late
        return tuple(key)

    def render_root_inner(self, context: Mapping[str, Any]) -> str:
        return self._render_block(self.regions[ROOT_ID].owner, ROOT_BLOCK, context)

    def render_stream_item(self, stream: str, context: Mapping[str, Any], dom_id: str, item: Any) -> str:
        slot = self.streams[stream]
        page_context = context.get("__live__")
        if isinstance(page_context, PageContext):
            page_context.in_stream(stream)
        html = self._render_block(slot.owner, slot.spec.block, {**context, "dom_id": dom_id, slot.item_var: item})
        return check_stream_item(stream, slot.item_var, dom_id, html)

    def render_stream_statics(self, stream: str, context: Mapping[str, Any]) -> str:
        """A stream container's content with no items: its static children around the markers
        (empty when it has none). A reset swaps it in, so the static children stay."""
        slot = self.streams[stream]
        if not slot.spec.statics:
            return ""
        start, end = items_markers()
        before = self._render_block(slot.owner, slot.spec.block + _STATICS_BEFORE, context)
        return before + start + end + self._render_block(slot.owner, slot.spec.block + _STATICS_AFTER, context)

    def nested_in(self, dom_id: str) -> tuple[str, ...]:
        """The ids of the regions inside region ``dom_id``, at any depth."""
        nested = self._nested.get(dom_id)
        if nested is None:
            nested = self._nested[dom_id] = tuple(other for other, region in self.regions.items() if dom_id in region.ancestors)
        return nested

    def regions_for(self, changed: Iterable[str]) -> list[Region]:
        """The regions to re-render for ``changed`` keys, outermost only (a shared list: read it only)."""
        key = changed if isinstance(changed, frozenset) else frozenset(changed)
        found = self._regions_for.get(key)
        if found is None:
            hit = [r for r in self.regions.values() if key and (ALWAYS in r.deps or not r.deps.isdisjoint(key))]
            hit_ids = {r.spec.dom_id for r in hit}
            found = [r for r in hit if hit_ids.isdisjoint(r.ancestors)]
            if len(self._regions_for) >= _REGIONS_FOR_CACHE:
                self._regions_for.clear()  # a page's sets of changed keys are few; this is rare
            self._regions_for[key] = found
        return found


# Values a fragment key may hold: immutable, and rendered the same wherever they are equal.
# The template helpers are one shared, stateless object per router.
_PLAIN_VALUES = frozenset({str, Markup, int, bool, type(None), TemplateHelpers})


@functools.lru_cache(maxsize=256)
def _version_attribute(version: int) -> Markup:
    return Markup(f' {ATTR_VERSION}="{version}"')


class PageContext:
    """``__live__`` in templates: what one render needs besides the assigns.

    The template tags compile reads of these: the live container's opening tag (with the
    page's token, ``root_tag``), the version every region of this render carries
    (``version_attribute``), and — in the first render only — a stream's items. A remount's
    render (``replace_streams``) lets the morph replace what stream containers hold, as
    LiveView's join does. (``root_open()`` and ``version_attr()`` serve templates compiled
    by earlier versions, e.g. from a bytecode cache.)
    """

    __slots__ = ("_components", "_root", "_stream", "_stream_children_attr", "_stream_items", "_version", "_version_attribute", "tracks_components")

    def __init__(
        self,
        root: Markup | Callable[[], Markup],
        version: int = 0,
        stream_items: dict[str, list[tuple[str, Any]]] | None = None,
        *,
        replace_streams: bool = False,
        components: ComponentRegistry | None = None,
    ) -> None:
        self._root = root  # or what makes it: most renders show no live container (a region's)
        self._version = version
        self._version_attribute: Markup | None = None  # made when a nested region asks for it
        self._stream_items = stream_items
        self._stream_children_attr = Markup("") if replace_streams else _SKIP_CHILDREN
        self._components = components
        self.tracks_components = components is not None
        self._stream: str | None = None  # the stream whose items are being rendered, if any

    def component(self, value: Any, name: str, assigns: dict[str, Any], place: str, dom_id: Any) -> Markup:
        """``{% live_component %}``: the component's HTML, created or updated as needed."""
        if self._components is None:
            raise ConfigurationError(
                f"{{% live_component {name} %}} at {place} renders where the page's template does not show it: "
                "through an include named by a variable, which the page cannot read ahead\n"
                'Expected: the tag in the page, or in a template it includes or extends by a literal name, e.g. {% include "todo_row.html" %}'
            )
        stream_item = (self._stream, dom_id) if self._stream is not None and isinstance(dom_id, str) else None
        return self._components.render_tag(value, name, assigns, place, stream_item, self)

    def enter_region(self, dom_id: str) -> str:
        if self._components is not None:
            self._components.enter(dom_id)
        return ""

    def leave_region(self) -> str:
        if self._components is not None:
            self._components.leave()
        return ""

    def in_stream(self, name: str | None) -> None:
        self._stream = name

    @property
    def version_attribute(self) -> Markup:
        attribute = self._version_attribute
        if attribute is None:
            attribute = self._version_attribute = _version_attribute(self._version)
        return attribute

    @property
    def root_tag(self) -> Markup:
        root = self._root
        if not isinstance(root, Markup):
            root = self._root = root()
        return root

    def root_open(self) -> Markup:
        return self.root_tag

    def version_attr(self) -> Markup:
        return self.version_attribute

    def stream_children_attr(self) -> Markup:
        return self._stream_children_attr

    def stream_items(self, name: str) -> list[tuple[str, Any]]:
        self._stream = name  # the loop over them runs next: components in it live as long as their item
        if self._stream_items is None:
            return []
        return self._stream_items.pop(name, [])
