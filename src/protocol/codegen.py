#!/usr/bin/env python3
"""Gregor's protocol code generator.

Reads the schema files (src/protocol/schema/*.sch, language described in
docs/schema-language.md) and writes, into --out-dir:

  messages.h / messages.c            the C structs and codecs every handler uses
  messages_test.h / messages_test.c  test support: fill every field with
                                     non-default values, and a table of all
                                     messages for generic round-trip tests
                                     and fuzzers (never linked into gregord)

Standard library only.  Schema errors stop the build with "file:line: ...".
"""

import argparse
import os
import re
import sys

# ---------------------------------------------------------------------------
# Schema model
# ---------------------------------------------------------------------------

# Scalar types: C type, reader, writer, minimum encoded size (classic, compact).
SCALARS = {
    'int8':    ('int8_t',       'gr_read_i8',   'gr_write_i8',   1, 1),
    'int16':   ('int16_t',      'gr_read_i16',  'gr_write_i16',  2, 2),
    'int32':   ('int32_t',      'gr_read_i32',  'gr_write_i32',  4, 4),
    'int64':   ('int64_t',      'gr_read_i64',  'gr_write_i64',  8, 8),
    'uint16':  ('uint16_t',     'gr_read_u16',  'gr_write_u16',  2, 2),
    'uint32':  ('uint32_t',     'gr_read_u32',  'gr_write_u32',  4, 4),
    'float64': ('double',       'gr_read_f64',  'gr_write_f64',  8, 8),
    'bool':    ('bool',         'gr_read_bool', 'gr_write_bool', 1, 1),
    'uuid':    ('gr_uuid_t',    None, None, 16, 16),
    'string':  ('gr_str_t',     None, None, 2, 1),
    'bytes':   ('gr_bytes_t',   None, None, 4, 1),
    'records': ('gr_records_t', None, None, 4, 1),
}
INT_RANGES = {
    'int8': (-2**7, 2**7 - 1), 'int16': (-2**15, 2**15 - 1),
    'int32': (-2**31, 2**31 - 1), 'int64': (-2**63, 2**63 - 1),
    'uint16': (0, 2**16 - 1), 'uint32': (0, 2**32 - 1),
}
NULLABLE_SCALARS = ('string', 'bytes', 'records')
KEYWORDS = ('api', 'struct', 'versions', 'flexible', 'request', 'response')
IDENT = re.compile(r'^[A-Za-z][A-Za-z0-9]*$')


class SchemaError(Exception):
    def __init__(self, where, msg):
        super().__init__('%s:%d: %s' % (where[0], where[1], msg))


class Field:
    """One field line.  kind is 'scalar', 'array' (of scalar or struct) or 'struct'."""

    def __init__(self, where):
        self.where = where
        self.name = None
        self.kind = None
        self.type = None        # scalar type name, for scalars and scalar arrays
        self.struct = None      # StructDef, for struct fields and struct arrays
        self.nullable = False
        self.vmin = 0
        self.vmax = None        # None = no upper bound
        self.default = None     # raw text after default=, or None
        self.tag = None

    def present_in(self, version):
        return version >= self.vmin and (self.vmax is None or version <= self.vmax)


class StructDef:
    def __init__(self, name, cname, where):
        self.name = name        # as written in the schema
        self.cname = cname      # C type name
        self.where = where
        self.fields = []


class Message:
    """A request, a response, or a standalone struct: a root struct plus nested ones."""

    def __init__(self, name, vmin, vmax, first_flex, where):
        self.name = name                # ProduceRequest
        self.cname = 'gr_' + name
        self.vmin, self.vmax = vmin, vmax
        self.first_flex = first_flex    # None when never flexible
        self.where = where
        self.root = StructDef(name, self.cname, where)
        self.structs = []               # nested structs, children before parents

    def flexible(self, version):
        return self.first_flex is not None and version >= self.first_flex

    def versions(self):
        return range(self.vmin, self.vmax + 1)


class Api:
    def __init__(self, key, name, where):
        self.key, self.name, self.where = key, name, where
        self.request = self.response = None


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------

def parse_versions(text, where):
    m = re.match(r'^(\d+)(\+|-(\d+))?$', text)
    if not m:
        raise SchemaError(where, 'bad version range %r (want N, N+ or N-M)' % text)
    lo = int(m.group(1))
    if m.group(2) == '+':
        return lo, None
    hi = int(m.group(3)) if m.group(3) is not None else lo
    if hi < lo:
        raise SchemaError(where, 'empty version range %r' % text)
    return lo, hi


def check_default(f, where):
    d = f.default
    if d is None:
        return
    if d == 'null':
        if not f.nullable:
            raise SchemaError(where, 'default=null on non-nullable field %s' % f.name)
        return
    if f.kind == 'array':
        raise SchemaError(where, 'arrays take only default=null')
    if f.kind == 'struct':
        raise SchemaError(where, 'struct fields take no default (give their fields defaults)')
    t = f.type
    if t in INT_RANGES:
        try:
            v = int(d, 0)
        except ValueError:
            raise SchemaError(where, 'default %r is not an integer' % d)
        lo, hi = INT_RANGES[t]
        if not lo <= v <= hi:
            raise SchemaError(where, 'default %r out of range for %s' % (d, t))
    elif t == 'float64':
        try:
            float(d)
        except ValueError:
            raise SchemaError(where, 'default %r is not a number' % d)
    elif t == 'bool':
        if d not in ('true', 'false'):
            raise SchemaError(where, 'bool default must be true or false')
    elif t == 'string':
        if not (len(d) >= 2 and d[0] == '"' and d[-1] == '"' and '"' not in d[1:-1] and '\\' not in d):
            raise SchemaError(where, 'string default must be null or "text" (no spaces, quotes or backslashes)')
    else:
        raise SchemaError(where, '%s fields take only default=null' % t)


class Parser:
    def __init__(self):
        self.apis = []
        self.structs = []       # standalone struct Messages
        self.names = {}         # C name -> where, to catch clashes across files

    def claim(self, cname, where):
        if cname in self.names:
            prev = self.names[cname]
            raise SchemaError(where, '%s already defined at %s:%d' % (cname, prev[0], prev[1]))
        self.names[cname] = where

    def parse_file(self, path):
        with open(path, encoding='utf-8') as fh:
            raw = fh.read().split('\n')
        lines = []  # (lineno, indent, text)
        for i, line in enumerate(raw, 1):
            if '\t' in line:
                raise SchemaError((path, i), 'tabs are not allowed; indent with 2 spaces')
            text = line.split('#', 1)[0].rstrip()
            if text.strip():
                lines.append((i, len(text) - len(text.lstrip(' ')), text.strip()))
        if not lines:
            raise SchemaError((path, 1), 'empty schema file')

        pos = 0
        ln, indent, text = lines[0]
        where = (path, ln)
        words = text.split()
        if indent != 0 or words[0] not in ('api', 'struct'):
            raise SchemaError(where, 'a schema starts with "api KEY Name" or "struct Name"')
        if words[0] == 'api':
            if len(words) != 3 or not words[1].isdigit() or not IDENT.match(words[2]):
                raise SchemaError(where, 'want "api KEY Name"')
            api = Api(int(words[1]), words[2], where)
            is_api = True
        else:
            if len(words) != 2 or not IDENT.match(words[1]):
                raise SchemaError(where, 'want "struct Name"')
            api = None
            struct_name = words[1]
            is_api = False
        pos = 1

        versions = flexible = None
        while pos < len(lines) and lines[pos][2].split()[0] in ('versions', 'flexible') and lines[pos][1] == 0:
            ln, _, text = lines[pos]
            w = text.split()
            where = (path, ln)
            if len(w) != 2:
                raise SchemaError(where, 'want "%s VALUE"' % w[0])
            if w[0] == 'versions':
                lo, hi = parse_versions(w[1], where)
                if hi is None:
                    raise SchemaError(where, 'served versions need an upper bound (N-M)')
                versions = (lo, hi)
            elif w[1] == 'none':
                flexible = 'none'
            else:
                m = re.match(r'^(\d+)\+$', w[1])
                if not m:
                    raise SchemaError(where, 'want "flexible N+" or "flexible none"')
                flexible = int(m.group(1))
            pos += 1
        head = (path, lines[0][0])
        if versions is None:
            raise SchemaError(head, 'missing "versions N-M" line')
        if flexible is None:
            raise SchemaError(head, 'missing "flexible N+" (or "flexible none") line')
        first_flex = None if flexible == 'none' else flexible

        if not is_api:
            msg = Message(struct_name, versions[0], versions[1], first_flex, head)
            self.claim(msg.cname, head)
            pos = self.parse_block(lines, pos, -1, msg, msg.root, path)
            if pos < len(lines):
                raise SchemaError((path, lines[pos][0]), 'unexpected line after the struct fields')
            self.finish(msg)
            self.structs.append(msg)
            return

        while pos < len(lines):
            ln, indent, text = lines[pos]
            where = (path, ln)
            if indent != 0 or text not in ('request', 'response'):
                raise SchemaError(where, 'expected "request" or "response" at column 1, got %r' % text)
            if getattr(api, text) is not None:
                raise SchemaError(where, 'second %s block' % text)
            msg = Message(api.name + text.capitalize(), versions[0], versions[1], first_flex, where)
            self.claim(msg.cname, where)
            pos = self.parse_block(lines, pos + 1, 0, msg, msg.root, path)
            self.finish(msg)
            setattr(api, text, msg)
        for part in ('request', 'response'):
            if getattr(api, part) is None:
                raise SchemaError(api.where, 'api %s has no %s block' % (api.name, part))
        for other in self.apis:
            if other.key == api.key:
                raise SchemaError(api.where, 'api key %d already used by %s' % (api.key, other.name))
        self.apis.append(api)

    def parse_block(self, lines, pos, parent_indent, msg, struct, path):
        """Parses the fields nested deeper than parent_indent into struct."""
        block_indent = None
        while pos < len(lines):
            ln, indent, text = lines[pos]
            where = (path, ln)
            if indent <= parent_indent:
                break
            if block_indent is None:
                block_indent = indent
            elif indent != block_indent:
                raise SchemaError(where, 'inconsistent indentation (expected %d spaces)' % block_indent)
            f = self.parse_field(text, where, msg)
            if any(g.name == f.name for g in struct.fields):
                raise SchemaError(where, 'duplicate field %s' % f.name)
            struct.fields.append(f)
            pos += 1
            if f.struct is not None:
                nested_start = pos
                pos = self.parse_block(lines, pos, indent, msg, f.struct, path)
                if pos == nested_start:
                    raise SchemaError(where, 'struct %s needs an indented block of fields' % f.struct.name)
                msg.structs.append(f.struct)
            elif pos < len(lines) and lines[pos][1] > indent:
                raise SchemaError((path, lines[pos][0]), 'only struct fields take a nested block')
        if block_indent is None:
            raise SchemaError((path, lines[pos - 1][0] if pos > 0 else 1), 'expected an indented block of fields')
        return pos

    def parse_field(self, text, where, msg):
        words = text.split()
        if words[0] in KEYWORDS:
            raise SchemaError(where, '%r is not a field name' % words[0])
        if len(words) < 2:
            raise SchemaError(where, 'want "Name Type [Versions] [default=V] [tag=N]"')
        f = Field(where)
        f.name = words[0]
        if not IDENT.match(f.name):
            raise SchemaError(where, 'bad field name %r' % f.name)
        t = words[1]
        if t.endswith('?'):
            f.nullable = True
            t = t[:-1]
        if t.startswith('[]'):
            f.kind = 'array'
            t = t[2:]
        else:
            f.kind = 'scalar'
        if t in SCALARS:
            f.type = t
            if f.kind == 'array' and t == 'records':
                raise SchemaError(where, 'arrays of records are not supported')
            if f.kind == 'scalar' and f.nullable and t not in NULLABLE_SCALARS:
                raise SchemaError(where, '%s cannot be nullable' % t)
        elif IDENT.match(t) and t[0].isupper():
            if f.kind == 'scalar':
                f.kind = 'struct'
                if f.nullable:
                    raise SchemaError(where, 'struct fields cannot be nullable')
            cname = '%s_%s' % (msg.cname, t)
            if any(s.name == t for s in msg.structs) or t == msg.name:
                raise SchemaError(where, 'struct %s is defined twice in %s' % (t, msg.name))
            f.struct = StructDef(t, cname, where)
        else:
            raise SchemaError(where, 'unknown type %r' % words[1])

        seen_versions = False
        for w in words[2:]:
            if w.startswith('default='):
                if f.default is not None:
                    raise SchemaError(where, 'two defaults')
                f.default = w[len('default='):]
            elif w.startswith('tag='):
                if f.tag is not None or not w[4:].isdigit():
                    raise SchemaError(where, 'bad %r' % w)
                f.tag = int(w[4:])
            elif not seen_versions and re.match(r'^\d', w):
                f.vmin, f.vmax = parse_versions(w, where)
                seen_versions = True
            else:
                raise SchemaError(where, 'unexpected %r' % w)
        check_default(f, where)
        if not any(f.present_in(v) for v in msg.versions()):
            raise SchemaError(where, 'field %s is in no served version (%d-%d)' % (f.name, msg.vmin, msg.vmax))
        if f.tag is not None:
            if not any(f.present_in(v) and msg.flexible(v) for v in msg.versions()):
                raise SchemaError(where, 'tagged field %s is in no flexible served version' % f.name)
        return f

    def finish(self, msg):
        for s in [msg.root] + msg.structs:
            tags = {}
            for f in s.fields:
                if f.tag is None:
                    continue
                if f.tag in tags:
                    raise SchemaError(f.where, 'tag %d already used by %s' % (f.tag, tags[f.tag]))
                tags[f.tag] = f.name


# ---------------------------------------------------------------------------
# C emission helpers
# ---------------------------------------------------------------------------

def version_cond(f, msg):
    """C condition for 'f is on the wire in this version' (None = always)."""
    parts = []
    if f.vmin > msg.vmin:
        parts.append('version >= %d' % f.vmin)
    if f.vmax is not None and f.vmax < msg.vmax:
        parts.append('version <= %d' % f.vmax)
    return ' && '.join(parts) if parts else None


def tagged_cond(f, msg):
    c = version_cond(f, msg)
    return 'flexible && ' + c if c else 'flexible'


def c_type(f):
    return f.struct.cname if f.struct is not None else SCALARS[f.type][0]


def default_expr(f):
    """C expression for f's default (for scalars and strings)."""
    d = f.default
    t = f.type
    if t == 'string':
        if d == 'null':
            return 'GR_STR_NULL'
        text = d if d is not None else '""'  # validated: "text", nothing to escape
        return '(gr_str_t){%s, %d}' % (text, len(text) - 2)
    if t == 'bytes':
        return '(gr_bytes_t){NULL, %d}' % (-1 if d == 'null' else 0)
    if t == 'records':
        return '(gr_records_t){NULL, %d, NULL, 0}' % (-1 if d == 'null' else 0)
    if t == 'uuid':
        return '(gr_uuid_t){{0}}'
    if t == 'bool':
        return 'true' if d == 'true' else 'false'
    if t == 'float64':
        return repr(float(d)) if d is not None else '0.0'
    if d is None:
        return '0'
    v = int(d, 0)
    if t == 'int64':
        return 'INT64_MIN' if v == -2**63 else '%dLL' % v
    if t == 'int32' and v == -2**31:
        return 'INT32_MIN'
    if t in ('uint16', 'uint32'):
        return '%dU' % v
    return str(v)


def array_default_count(f):
    return -1 if f.default == 'null' else 0


def min_size(struct, msg, version):
    """Smallest encoding of struct in version (for bounding array counts)."""
    flex = msg.flexible(version)
    n = 1 if flex else 0  # the tag buffer count
    for f in struct.fields:
        if f.tag is not None or not f.present_in(version):
            continue
        n += field_min_size(f, msg, version)
    return n


def field_min_size(f, msg, version):
    flex = msg.flexible(version)
    if f.kind == 'array':
        return 1 if flex else 4
    if f.kind == 'struct':
        return min_size(f.struct, msg, version)
    return SCALARS[f.type][4 if flex else 3]


def elem_min_size_expr(f, msg, present_versions):
    """C expression: a lower bound of one element's size, per flexibility."""
    def elem(v):
        if f.struct is not None:
            return max(1, min_size(f.struct, msg, v))
        return SCALARS[f.type][4 if msg.flexible(v) else 3]
    flex = [elem(v) for v in present_versions if msg.flexible(v)]
    classic = [elem(v) for v in present_versions if not msg.flexible(v)]
    if flex and classic and min(flex) != min(classic):
        return 'flexible ? %d : %d' % (min(flex), min(classic))
    return str(min(flex or classic))


class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, line='', indent=0):
        self.lines.append(('    ' * indent + line) if line else '')

    def text(self):
        return '\n'.join(self.lines) + '\n'


def fn_name(struct, msg, op):
    """C function name: public gr_<Msg>_<op> for a message's root and for
    every struct's init, a static <op>_<Msg>_<Struct> helper otherwise."""
    if struct is msg.root or op == 'init':
        # Nested inits are public too: handlers fill array elements and
        # must start from the schema defaults (e.g. -1 offsets, tagged
        # fields left out only when at their default).
        return '%s_%s' % (struct.cname, op) if op == 'init' else '%s_%s' % (msg.cname, op)
    return '%s_%s' % (op, struct.cname[3:])


# ---------------------------------------------------------------------------
# messages.h / messages.c
# ---------------------------------------------------------------------------

HEADER_NOTE = '''/* GENERATED by src/protocol/codegen.py from the schema files in
 * src/protocol/schema.  Do not edit: change the schema (the language is in
 * docs/schema-language.md) and rebuild. */'''


def emit_typedefs(h, msg):
    for s in msg.structs + [msg.root]:
        h('typedef struct %s {' % s.cname)
        if not s.fields:
            h('char unused_;  /* no fields in any served version */', 1)
        for f in s.fields:
            note = []
            if f.vmin > msg.vmin or f.vmax is not None:
                note.append('v%d%s' % (f.vmin, '+' if f.vmax is None else '-%d' % f.vmax))
            if f.tag is not None:
                note.append('tag %d' % f.tag)
            if f.nullable and f.kind != 'array':
                note.append('nullable')
            if f.default is not None:
                note.append('default %s' % f.default)
            suffix = '  /* %s */' % ', '.join(note) if note else ''
            if f.kind == 'array':
                cnt = '-1 = null' if f.nullable else 'never -1 once decoded'
                h('int32_t %s_count;  /* %s%s */' % (f.name, cnt, ', ' + ', '.join(note) if note else ''), 1)
                h('%s *%s;' % (c_type(f), f.name), 1)
            else:
                h('%s %s;%s' % (c_type(f), f.name, suffix), 1)
        h('} %s;' % s.cname)
        h()


def emit_prototypes(h, msg):
    n = msg.cname
    for st in msg.structs:
        if st is not msg.root:
            h('void %s_init(%s *m);' % (st.cname, st.cname))
    h('void %s_init(%s *m);' % (n, n))
    h('int %s_decode(gr_reader_t *r, gr_arena_t *a, int16_t version, %s *out);' % (n, n))
    h('void %s_encode(gr_writer_t *w, int16_t version, const %s *in);' % (n, n))


def emit_init(c, s, msg):
    c('void %s(%s *m)' % (fn_name(s, msg, 'init'), s.cname))
    c('{')
    c('memset(m, 0, sizeof *m);', 1)
    for f in s.fields:
        if f.kind == 'array':
            if array_default_count(f):
                c('m->%s_count = %d;' % (f.name, array_default_count(f)), 1)
        elif f.kind == 'struct':
            c('%s(&m->%s);' % (fn_name(f.struct, msg, 'init'), f.name), 1)
        else:
            d = default_expr(f)
            if d not in ('0', 'false', '0.0', '(gr_uuid_t){{0}}', '(gr_bytes_t){NULL, 0}',
                         '(gr_records_t){NULL, 0, NULL, 0}'):
                c('m->%s = %s;' % (f.name, d), 1)
    c('}')
    c()


def read_scalar_expr(t, nullable, rd):
    if t == 'string':
        return 'gr_read_string(%s, flexible)' % rd if nullable else 'read_nonnull_string(%s, flexible)' % rd
    if t == 'bytes':
        return 'gr_read_bytes(%s, flexible)' % rd if nullable else 'read_nonnull_bytes(%s, flexible)' % rd
    if t == 'records':
        return 'read_records(%s, flexible, %s)' % (rd, 'true' if nullable else 'false')
    if t == 'uuid':
        return 'gr_read_uuid(%s)' % rd
    return '%s(%s)' % (SCALARS[t][1], rd)


def emit_decode_field(c, f, msg, rd, ind, present_versions):
    """Statements decoding f from reader rd into out->f."""
    dst = 'out->' + f.name
    if f.kind == 'scalar':
        c('%s = %s;' % (dst, read_scalar_expr(f.type, f.nullable, rd)), ind)
    elif f.kind == 'struct':
        c('if ((rc = %s(%s, a, version, &%s)) != 0)' % (fn_name(f.struct, msg, 'decode'), rd, dst), ind)
        c('return rc;', ind + 1)
    else:
        c('%s_count = gr_read_array_len(%s, flexible, %s);' % (dst, rd, elem_min_size_expr(f, msg, present_versions)), ind)
        if f.nullable:
            c('if (%s->err)' % rd, ind)
        else:
            c('if (%s->err || %s_count < 0)' % (rd, dst), ind)
        c('return GR_EPARSE;', ind + 1)
        c('if (%s_count > 0) {' % dst, ind)
        c('%s = gr_arena_calloc(a, (size_t)%s_count, sizeof *%s);' % (dst, dst, dst), ind + 1)
        c('if (!%s)' % dst, ind + 1)
        c('return GR_ENOMEM;', ind + 2)
        c('for (int32_t i = 0; i < %s_count; i++) {' % dst, ind + 1)
        if f.struct is not None:
            c('if ((rc = %s(%s, a, version, &%s[i])) != 0)' % (fn_name(f.struct, msg, 'decode'), rd, dst), ind + 2)
            c('return rc;', ind + 3)
        else:
            c('%s[i] = %s;' % (dst, read_scalar_expr(f.type, False, rd)), ind + 2)
        c('}', ind + 1)
        c('}', ind)


def needs_rc(s):
    return any(f.struct is not None for f in s.fields)


def emit_decode(c, s, msg):
    public = s is msg.root
    c('%sint %s(gr_reader_t *r, gr_arena_t *a, int16_t version, %s *out)'
      % ('' if public else 'static ', fn_name(s, msg, 'decode'), s.cname))
    c('{')
    if public:
        c('if (version < %d || version > %d)' % (msg.vmin, msg.vmax), 1)
        c('return GR_EVERSION;', 2)
    flex_expr = 'version >= %d' % msg.first_flex if msg.first_flex is not None else 'false'
    if msg.first_flex is not None and msg.first_flex <= msg.vmin:
        flex_expr = 'true'
    c('const bool flexible = %s;' % flex_expr, 1)
    c('(void)flexible;  /* unused in structs with only fixed-size fields */', 1)
    if needs_rc(s):
        c('int rc;', 1)
    c('%s(out);' % fn_name(s, msg, 'init'), 1)
    for f in s.fields:
        if f.tag is not None:
            continue
        present = [v for v in msg.versions() if f.present_in(v)]
        cond = version_cond(f, msg)
        if cond:
            c('if (%s) {' % cond, 1)
            emit_decode_field(c, f, msg, 'r', 2, present)
            c('}', 1)
        else:
            emit_decode_field(c, f, msg, 'r', 1, present)
    tagged = sorted((f for f in s.fields if f.tag is not None), key=lambda f: f.tag)
    if msg.first_flex is not None:
        if not tagged:
            c('if (flexible)', 1)
            c('gr_skip_tags(r);', 2)
        else:
            c('if (flexible) {', 1)
            c('uint32_t ntags = gr_read_uvarint(r);', 2)
            c('for (uint32_t t = 0; t < ntags && !r->err; t++) {', 2)
            c('uint32_t tag;', 3)
            c('gr_reader_t field_data, *field = &field_data;', 3)
            c('if (!read_tagged_field(r, &tag, field))', 3)
            c('break;', 4)
            c('switch (tag) {', 3)
            for f in tagged:
                present = [v for v in msg.versions() if f.present_in(v) and msg.flexible(v)]
                c('case %d:' % f.tag, 3)
                cond = version_cond(f, msg)
                if cond:
                    c('if (%s) {' % cond, 4)
                    emit_decode_field(c, f, msg, 'field', 5, present)
                    c('}', 4)
                else:
                    emit_decode_field(c, f, msg, 'field', 4, present)
                c('break;', 4)
            c('default:  /* unknown tags are skipped, as Kafka does */', 3)
            c('break;', 4)
            c('}', 3)
            c('if (field->err)', 3)
            c('return GR_EPARSE;', 4)
            c('}', 2)
            c('}', 1)
    c('return r->err ? GR_EPARSE : 0;', 1)
    c('}')
    c()


def write_scalar_stmt(t, nullable, wr, src):
    if t == 'string':
        return '%s(%s, %s, flexible);' % ('gr_write_string' if nullable else 'write_nonnull_string', wr, src)
    if t == 'bytes':
        return '%s(%s, %s, flexible);' % ('gr_write_bytes' if nullable else 'write_nonnull_bytes', wr, src)
    if t == 'records':
        return '%s(%s, &%s, flexible);' % ('gr_write_records' if nullable else 'write_nonnull_records', wr, src)
    if t == 'uuid':
        return 'gr_write_uuid(%s, &%s);' % (wr, src)
    return '%s(%s, %s);' % (SCALARS[t][2], wr, src)


def emit_encode_field(c, f, msg, wr, ind):
    src = 'in->' + f.name
    if f.kind == 'scalar':
        c(write_scalar_stmt(f.type, f.nullable, wr, src), ind)
    elif f.kind == 'struct':
        c('%s(%s, version, &%s);' % (fn_name(f.struct, msg, 'encode'), wr, src), ind)
    else:
        if f.nullable:
            c('gr_write_array_len(%s, %s_count, flexible);' % (wr, src), ind)
        else:
            c('write_nonnull_array_len(%s, %s_count, flexible);' % (wr, src), ind)
        c('for (int32_t i = 0; i < %s_count; i++)' % src, ind)
        if f.struct is not None:
            c('%s(%s, version, &%s[i]);' % (fn_name(f.struct, msg, 'encode'), wr, src), ind + 1)
        else:
            c(write_scalar_stmt(f.type, False, wr, src + '[i]'), ind + 1)


def non_default_expr(f, msg, src):
    """C expression: the tagged field holds something other than its default."""
    if f.kind == 'array':
        return '%s_count != %d' % (src, array_default_count(f))
    if f.kind == 'struct':
        return '!%s(&%s)' % (fn_name(f.struct, msg, 'is_default'), src)
    t = f.type
    if t in ('string', 'bytes'):
        if f.default == 'null':
            return '%s.len >= 0' % src
        if t == 'string' and f.default is not None and len(f.default) > 2:
            text = f.default
            return '!(%s.len == %d && memcmp(%s.ptr, %s, %d) == 0)' % (src, len(text) - 2, src, text, len(text) - 2)
        return '%s.len != 0' % src
    if t == 'records':
        return '%s.len != %d' % (src, -1 if f.default == 'null' else 0)
    if t == 'uuid':
        return '!gr_uuid_is_zero(&%s)' % src
    return '%s != %s' % (src, default_expr(f))


def structs_needing_is_default(msg):
    need = []

    def add(s):
        if s in need:
            return
        need.append(s)
        for g in s.fields:
            if g.kind == 'struct':
                add(g.struct)
    for s in [msg.root] + msg.structs:
        for f in s.fields:
            if f.tag is not None and f.kind == 'struct':
                add(f.struct)
    return need


def emit_is_default(c, s, msg):
    c('/* True when every field of a %s still holds its default (then the tagged field is left out). */' % s.name)
    c('static bool %s(const %s *in)' % (fn_name(s, msg, 'is_default'), s.cname))
    c('{')
    conds = [non_default_expr(f, msg, 'in->' + f.name) for f in s.fields]
    c('return !(%s);' % ('\n        || '.join(conds) if conds else 'false'), 1)
    c('}')
    c()


def emit_encode(c, s, msg):
    public = s is msg.root
    c('%svoid %s(gr_writer_t *w, int16_t version, const %s *in)'
      % ('' if public else 'static ', fn_name(s, msg, 'encode'), s.cname))
    c('{')
    flex_expr = 'version >= %d' % msg.first_flex if msg.first_flex is not None else 'false'
    if msg.first_flex is not None and msg.first_flex <= msg.vmin:
        flex_expr = 'true'
    c('const bool flexible = %s;' % flex_expr, 1)
    c('(void)flexible;  /* unused in structs with only fixed-size fields */', 1)
    for f in s.fields:
        if f.tag is not None:
            continue
        cond = version_cond(f, msg)
        if cond:
            many = f.kind == 'array'
            c('if (%s)%s' % (cond, ' {' if many else ''), 1)
            emit_encode_field(c, f, msg, 'w', 2)
            if many:
                c('}', 1)
        else:
            emit_encode_field(c, f, msg, 'w', 1)
    tagged = sorted((f for f in s.fields if f.tag is not None), key=lambda f: f.tag)
    if msg.first_flex is not None:
        if not tagged:
            c('if (flexible)', 1)
            c('gr_write_empty_tags(w);', 2)
        else:
            c('if (flexible) {', 1)
            for f in tagged:
                cond = version_cond(f, msg)
                c('const bool write_%s = %s%s;' % (f.name, cond + ' && ' if cond else '', non_default_expr(f, msg, 'in->' + f.name)), 2)
            c('gr_write_uvarint(w, (uint32_t)%s);' % ' + '.join('write_%s' % f.name for f in tagged), 2)
            for f in tagged:
                c('if (write_%s) {' % f.name, 2)
                c('gr_writer_t field;', 3)
                c('gr_writer_init(&field);', 3)
                emit_encode_field(c, f, msg, '&field', 3)
                c('put_tagged_field(w, %d, &field);' % f.tag, 3)
                c('}', 2)
            c('}', 1)
    c('}')
    c()


C_HELPERS = r'''
/* Non-nullable strings, bytes and arrays that arrive as null are malformed:
 * Kafka rejects them too, and handlers may then rely on len/count >= 0. */
static gr_str_t read_nonnull_string(gr_reader_t *r, bool flexible)
{
    gr_str_t s = gr_read_string(r, flexible);
    if (s.len < 0)
        r->err = 1;
    return s;
}

static gr_bytes_t read_nonnull_bytes(gr_reader_t *r, bool flexible)
{
    gr_bytes_t b = gr_read_bytes(r, flexible);
    if (b.len < 0)
        r->err = 1;
    return b;
}

/* Records arrive as bytes; they point into the request buffer (no file). */
static gr_records_t read_records(gr_reader_t *r, bool flexible, bool nullable)
{
    gr_bytes_t b = gr_read_bytes(r, flexible);
    if (b.len < 0 && !nullable)
        r->err = 1;
    return (gr_records_t){b.ptr, b.len, NULL, 0};
}

/* A handler that leaves a non-nullable field null sends it empty rather than
 * a null the client would refuse to parse. */
static void write_nonnull_string(gr_writer_t *w, gr_str_t s, bool flexible)
{
    gr_write_string(w, s.len < 0 ? (gr_str_t){"", 0} : s, flexible);
}

static void write_nonnull_bytes(gr_writer_t *w, gr_bytes_t b, bool flexible)
{
    gr_write_bytes(w, b.len < 0 ? (gr_bytes_t){NULL, 0} : b, flexible);
}

static void write_nonnull_records(gr_writer_t *w, const gr_records_t *rec, bool flexible)
{
    if (rec->len < 0)
        gr_write_bytes(w, (gr_bytes_t){NULL, 0}, flexible);
    else
        gr_write_records(w, rec, flexible);
}

static void write_nonnull_array_len(gr_writer_t *w, int32_t count, bool flexible)
{
    gr_write_array_len(w, count < 0 ? 0 : count, flexible);
}

/* Reads one tagged field's header and gives a reader over exactly its data,
 * advancing r past it.  A field that overruns the buffer sets r->err. */
static bool read_tagged_field(gr_reader_t *r, uint32_t *tag, gr_reader_t *field)
{
    *tag = gr_read_uvarint(r);
    uint32_t size = gr_read_uvarint(r);
    if (r->err || size > gr_reader_left(r)) {
        r->err = 1;
        return false;
    }
    gr_reader_init(field, r->p, size);
    r->p += size;
    return true;
}

/* Appends {tag, size, data} from a scratch writer holding one tagged field's
 * encoding (its size prefixes it, so it is encoded first), then frees it. */
static void put_tagged_field(gr_writer_t *w, uint32_t tag, gr_writer_t *field)
{
    gr_write_uvarint(w, tag);
    gr_write_uvarint(w, (uint32_t)field->len);
    gr_writer_put(w, field->buf, field->len);
    if (field->oom)
        w->oom = 1;
    gr_writer_free(field);
}
'''


def helper_used(text, body):
    """True when the helper function defined in text is called in body."""
    m = re.search(r'^static \w+ \*?(\w+)\(', text, re.M)
    return m is not None and re.search(r'\b%s\(' % m.group(1), body) is not None


def all_messages(parser):
    msgs = []
    for api in parser.apis:
        msgs += [api.request, api.response]
    return msgs + parser.structs


def gen_messages(parser):
    apis = sorted(parser.apis, key=lambda a: a.key)
    h = Out()
    h(HEADER_NOTE)
    h('#ifndef GR_PROTOCOL_MESSAGES_H')
    h('#define GR_PROTOCOL_MESSAGES_H')
    h()
    h('#include <stdbool.h>')
    h('#include <stdint.h>')
    h()
    h('#include "protocol/prim.h"')
    h('#include "util/arena.h"')
    h('#include "util/buf.h"')
    h()
    for api in apis:
        h('#define GR_API_%s %d' % (api.name, api.key))
    h()
    h('typedef struct gr_api_schema {')
    h('int16_t key;', 1)
    h('const char *name;', 1)
    h('int16_t min_version, max_version;  /* served: the `versions` line */', 1)
    h('int16_t first_flexible;            /* INT16_MAX when never flexible */', 1)
    h('} gr_api_schema_t;')
    h('extern const gr_api_schema_t gr_api_schemas[];  /* sorted by key */')
    h('extern const int gr_api_schema_count;')
    h('const gr_api_schema_t *gr_api_schema_find(int16_t key);  /* NULL if unknown */')
    h()
    h('''/* For every message M below:
 *   void M_init(M *m)       fills defaults (every field's default=, counts 0
 *                           or -1 for default=null arrays), as decode does first.
 *                           Nested structs have one too (M_Struct_init), to
 *                           start array elements a handler fills from defaults.
 *   int M_decode(r, a, version, out)
 *                           decodes one body (after the request/response header).
 *                           Strings, bytes and records point into r's buffer;
 *                           arrays are allocated from the arena.  Returns 0,
 *                           GR_EPARSE on truncated/malformed input, GR_EVERSION
 *                           for a version outside the served range, or
 *                           GR_ENOMEM when the arena is exhausted.
 *   void M_encode(w, version, in)
 *                           appends the body; only fields present in `version`
 *                           are written, tagged fields only when not default. */''')
    h()
    for msg in all_messages(parser):
        h('/* ---- %s: versions %d-%d, %s ---- */' % (
            msg.name, msg.vmin, msg.vmax,
            'flexible %d+' % msg.first_flex if msg.first_flex is not None else 'never flexible'))
        h()
        emit_typedefs(h, msg)
        emit_prototypes(h, msg)
        h()
    h('#endif')

    c = Out()
    c(HEADER_NOTE)
    c('#include "protocol/messages.h"')
    c()
    c('#include <string.h>')
    c()
    c('#include "protocol/errors.h"')
    prologue = len(c.lines)
    c('const gr_api_schema_t gr_api_schemas[] = {')
    for api in apis:
        m = api.request
        c('{%d, "%s", %d, %d, %s},' % (api.key, api.name, m.vmin, m.vmax,
                                       m.first_flex if m.first_flex is not None else 'INT16_MAX'), 1)
    c('};')
    c('const int gr_api_schema_count = (int)(sizeof gr_api_schemas / sizeof gr_api_schemas[0]);')
    c()
    c('const gr_api_schema_t *gr_api_schema_find(int16_t key)')
    c('{')
    c('int lo = 0, hi = gr_api_schema_count - 1;', 1)
    c('while (lo <= hi) {', 1)
    c('int mid = (lo + hi) / 2;', 2)
    c('if (gr_api_schemas[mid].key == key)', 2)
    c('return &gr_api_schemas[mid];', 3)
    c('if (gr_api_schemas[mid].key < key)', 2)
    c('lo = mid + 1;', 3)
    c('else', 2)
    c('hi = mid - 1;', 3)
    c('}', 1)
    c('return NULL;', 1)
    c('}')
    c()
    for msg in all_messages(parser):
        c('/* ---- %s ---- */' % msg.name)
        c()
        structs = msg.structs + [msg.root]
        for s in structs:
            emit_init(c, s, msg)
        for s in reversed(structs_needing_is_default(msg)):
            emit_is_default(c, s, msg)
        for s in structs:
            emit_decode(c, s, msg)
        for s in structs:
            emit_encode(c, s, msg)
    # Only the helpers the codecs call, so the C compiles without warnings.
    body = '\n'.join(c.lines[prologue:])
    helpers = [text for text in C_HELPERS.split('\n\n') if helper_used(text, body)]
    c.lines[prologue:prologue] = ['', '\n\n'.join(h.strip('\n') for h in helpers), '']
    return h.text(), c.text()


# ---------------------------------------------------------------------------
# messages_test.h / messages_test.c (test support)
# ---------------------------------------------------------------------------

def emit_fill_field(c, f, msg, ind):
    dst = 'm->' + f.name
    if f.kind == 'struct':
        c('%s(a, version, variant, &%s);' % (fn_name(f.struct, msg, 'fill'), dst), ind)
        return
    if f.kind == 'array':
        if f.nullable:
            c('if (variant == GR_FILL_NULLS) {', ind)
            c('%s_count = -1;' % dst, ind + 1)
            c('} else {', ind)
        else:
            c('{', ind)
        c('%s_count = variant == GR_FILL_NULLS ? 1 : 2;' % dst, ind + 1)
        c('%s = gr_arena_calloc(a, (size_t)%s_count, sizeof *%s);' % (dst, dst, dst), ind + 1)
        c('for (int32_t i = 0; i < %s_count; i++)' % dst, ind + 1)
        if f.struct is not None:
            c('%s(a, version, variant, &%s[i]);' % (fn_name(f.struct, msg, 'fill'), dst), ind + 2)
        else:
            c('%s[i] = %s;' % (dst, fill_value(f, False)), ind + 2)
        c('}', ind)
        return
    if f.nullable:
        c('%s = variant == GR_FILL_NULLS ? %s : %s;' % (dst, {
            'string': 'GR_STR_NULL', 'bytes': '(gr_bytes_t){NULL, -1}',
            'records': '(gr_records_t){NULL, -1, NULL, 0}'}[f.type], fill_value(f, True)), ind)
    else:
        c('%s = %s;' % (dst, fill_value(f, True)), ind)


def fill_value(f, use_default):
    t = f.type
    d = default_expr(f) if use_default and f.kind == 'scalar' else None
    if t == 'string':
        return 'test_string(a)'
    if t == 'bytes':
        return 'test_bytes(a)'
    if t == 'records':
        return 'test_records(a)'
    if t == 'uuid':
        return 'test_uuid()'
    if t == 'bool':
        return '!%s' % (d if d else 'false')
    if t == 'float64':
        return '(double)test_int(0) + 0.5'
    return '(%s)test_int(%s)' % (SCALARS[t][0], d if d and d not in ('INT64_MIN', 'INT32_MIN') else '0')


TEST_H = '''/* GENERATED by src/protocol/codegen.py: test support for the generated codecs.
 * Linked into unit tests and fuzzers only, never into gregord. */
#ifndef GR_PROTOCOL_MESSAGES_TEST_H
#define GR_PROTOCOL_MESSAGES_TEST_H

#include "protocol/messages.h"

/* How gr_test_messages[].fill sets fields present in a version:
 *   GR_FILL_VALUES  every field non-default and non-null, arrays of 2
 *   GR_FILL_NULLS   nullable fields null, other arrays of 1, the rest non-default */
enum { GR_FILL_VALUES = 0, GR_FILL_NULLS = 1 };

typedef struct gr_test_message {
    const char *name;           /* "ProduceRequest" */
    int16_t api_key;            /* -1 for standalone structs */
    bool is_request;
    int16_t min_version, max_version;
    size_t size;                /* sizeof the C struct */
    void (*init)(void *m);
    int (*decode)(gr_reader_t *r, gr_arena_t *a, int16_t version, void *out);
    void (*encode)(gr_writer_t *w, int16_t version, const void *in);
    /* Fields from arena memory; values differ from call to call. */
    void (*fill)(gr_arena_t *a, int16_t version, int variant, void *m);
} gr_test_message_t;

extern const gr_test_message_t gr_test_messages[];
extern const int gr_test_message_count;
'''

TEST_C_HELPERS = r'''
/* A counter makes every filled value distinct, so a decoder that swaps two
 * fields of the same type is caught by the round trip. */
static uint32_t test_counter;

static int64_t test_int(int64_t avoid)
{
    int64_t v = (int64_t)(++test_counter % 100) + 2;
    return v == avoid ? v + 1 : v;
}

static gr_str_t test_string(gr_arena_t *a)
{
    char *s = gr_arena_printf(a, "s%u", ++test_counter);
    return gr_str(s);
}

static gr_bytes_t test_bytes(gr_arena_t *a)
{
    uint8_t *p = gr_arena_alloc(a, 3);
    p[0] = 0xb0;
    p[1] = (uint8_t)++test_counter;
    p[2] = 0x0b;
    return (gr_bytes_t){p, 3};
}

static gr_records_t test_records(gr_arena_t *a)
{
    uint8_t *p = gr_arena_alloc(a, 4);
    p[0] = 0xec;
    p[1] = (uint8_t)++test_counter;
    p[2] = 0x0e;
    p[3] = 0xc0;
    return (gr_records_t){p, 4, NULL, 0};
}

static gr_uuid_t test_uuid(void)
{
    gr_uuid_t u;
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)(i + 1 + test_counter);
    test_counter++;
    return u;
}
'''


def gen_tests(parser):
    h = Out()
    for line in TEST_H.rstrip('\n').split('\n'):
        h.lines.append(line)
    h()
    for msg in all_messages(parser):
        h('void %s_fill_test_values(gr_arena_t *a, int16_t version, int variant, %s *m);' % (msg.cname, msg.cname))
    h()
    h('#endif')

    c = Out()
    c('/* GENERATED by src/protocol/codegen.py: test support, see messages_test.h. */')
    c('#include "protocol/messages_test.h"')
    prologue = len(c.lines)
    for msg in all_messages(parser):
        structs = msg.structs + [msg.root]
        for s in structs:
            if s is msg.root:
                c('void %s_fill_test_values(gr_arena_t *a, int16_t version, int variant, %s *m)' % (msg.cname, s.cname))
            else:
                c('static void %s(gr_arena_t *a, int16_t version, int variant, %s *m)' % (fn_name(s, msg, 'fill'), s.cname))
            c('{')
            c('const bool flexible = %s;' % ('version >= %d' % msg.first_flex if msg.first_flex is not None else 'false'), 1)
            c('(void)flexible;', 1)
            c('%s(m);' % fn_name(s, msg, 'init'), 1)
            for f in s.fields:
                cond = tagged_cond(f, msg) if f.tag is not None else version_cond(f, msg)
                if cond:
                    c('if (%s) {' % cond, 1)
                    emit_fill_field(c, f, msg, 2)
                    c('}', 1)
                else:
                    emit_fill_field(c, f, msg, 1)
            c('}')
            c()
        # Type-erased wrappers for the table (no casts between function types).
        n = msg.cname
        c('static void %s_init_any(void *m) { %s_init(m); }' % (n, n))
        c('static int %s_decode_any(gr_reader_t *r, gr_arena_t *a, int16_t v, void *out) { return %s_decode(r, a, v, out); }' % (n, n))
        c('static void %s_encode_any(gr_writer_t *w, int16_t v, const void *in) { %s_encode(w, v, in); }' % (n, n))
        c('static void %s_fill_any(gr_arena_t *a, int16_t v, int variant, void *m) { %s_fill_test_values(a, v, variant, m); }' % (n, n))
        c()
    c('const gr_test_message_t gr_test_messages[] = {')
    for api in sorted(parser.apis, key=lambda a: a.key):
        for msg, req in ((api.request, 'true'), (api.response, 'false')):
            n = msg.cname
            c('{"%s", %d, %s, %d, %d, sizeof(%s), %s_init_any, %s_decode_any, %s_encode_any, %s_fill_any},'
              % (msg.name, api.key, req, msg.vmin, msg.vmax, n, n, n, n, n), 1)
    for msg in parser.structs:
        n = msg.cname
        c('{"%s", -1, false, %d, %d, sizeof(%s), %s_init_any, %s_decode_any, %s_encode_any, %s_fill_any},'
          % (msg.name, msg.vmin, msg.vmax, n, n, n, n, n), 1)
    c('};')
    c('const int gr_test_message_count = (int)(sizeof gr_test_messages / sizeof gr_test_messages[0]);')
    body = '\n'.join(c.lines[prologue:])
    chunks = TEST_C_HELPERS.strip('\n').split('\n\n')
    # The counter (first chunk) is always used; the value makers only when
    # some schema has a field of their type.
    helpers = chunks[:1] + [text for text in chunks[1:] if helper_used(text, body)]
    c.lines[prologue:prologue] = ['', '\n\n'.join(helpers), '']
    return h.text(), c.text()


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out-dir', required=True)
    ap.add_argument('schemas', nargs='+')
    args = ap.parse_args()
    parser = Parser()
    try:
        for path in args.schemas:
            parser.parse_file(path)
    except SchemaError as e:
        print('codegen: %s' % e, file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    h, c = gen_messages(parser)
    th, tc = gen_tests(parser)
    # Always rewrite messages.* so make sees them newer than their inputs.
    for name, text in (('messages.h', h), ('messages.c', c), ('messages_test.h', th), ('messages_test.c', tc)):
        path = os.path.join(args.out_dir, name)
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as fh:
            fh.write(text)
        os.replace(tmp, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
