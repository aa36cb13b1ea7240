"""ODL parser: value decoding, structure, errors, agreement with pvl on real labels, dumps."""
from __future__ import annotations

import datetime as dt

import pvl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rovercam.errors import LabelSyntaxError, ProductError
from rovercam.products import odl
from rovercam.products.odl import Label, Quantity

UTC = dt.timezone.utc
REAL_LABELS = [
    "msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG",
    "msl/NRB_701384494RAD_F0933408NCAM00200M1.IMG",
    "msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL",
    "mer/1f581291004ednd2fcp1121r0m1.img",
    "mer/1f581291004ednd2fcp1121r0m1.img.lbl",
]


def normalize(value):
    """A comparable form of pvl's and our values: tuples for sequences, tagged quantities."""
    if isinstance(value, (pvl.collections.PVLModule, pvl.collections.PVLGroup,
                          pvl.collections.PVLObject)):
        kind = ("OBJECT" if isinstance(value, pvl.collections.PVLObject) else
                "GROUP" if isinstance(value, pvl.collections.PVLGroup) else "MODULE")
        return kind, [(k, normalize(v)) for k, v in value.items()]
    if isinstance(value, Label):
        return value.kind, [(k, normalize(v)) for k, v in value.pairs()]
    if isinstance(value, pvl.collections.Quantity):
        return "Q", normalize(value.value), value.units
    if isinstance(value, Quantity):
        return "Q", normalize(value.value), value.unit
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    return type(value).__name__, value


# truth: the ODL value forms of the PDS3 Standards Reference (docs/products.md#pds3-labels) and
# pvl's decoding of them
@pytest.mark.parametrize("text, expected", [
    ("12", 12),
    ("-3", -3),
    ("1.0e-05", 1.0e-05),
    ("8e-06", 8e-06),
    ("2#0000111111111111#", 4095),
    ("16#FF#", 255),
    ("8#-17#", -15),
    ('"MSL MARS HAZARD AVOIDANCE CAMERA 2 EDR\r\n      V1.0"',
     "MSL MARS HAZARD AVOIDANCE CAMERA 2 EDR V1.0"),
    ('"N/A"', "N/A"),
    ('"NULL"', "NULL"),
    ("NULL", None),
    ("TRUE", True),
    ("false", False),
    ("CAHVORE", "CAHVORE"),
    ("N/A", "N/A"),
    ("Sol-00382M10:30:22.750", "Sol-00382M10:30:22.750"),
    ("389.12 <ms>", Quantity(389.12, "ms")),
    ("0.0 <W.m**-2.sr**-1.nm**-1>", Quantity(0.0, "W.m**-2.sr**-1.nm**-1")),
    ("(1.03304,-0.17145,-0.707908)", (1.03304, -0.17145, -0.707908)),
    ("(3.15717 <rad>, 0.0 <rad>)", (Quantity(3.15717, "rad"), Quantity(0.0, "rad"))),
    ('("X.IMG", 25)', ("X.IMG", 25)),
    ('("X.IMG", 12345 <BYTES>)', ("X.IMG", Quantity(12345, "BYTES"))),
    ("{A, B}", frozenset({"A", "B"})),
    ("((1, 2), (3))", ((1, 2), (3,))),
    ("()", ()),
    ("2013-09-02T12:40:04.754", dt.datetime(2013, 9, 2, 12, 40, 4, 754000, tzinfo=UTC)),
    ("2013-245T12:40:04.754", dt.datetime(2013, 9, 2, 12, 40, 4, 754000, tzinfo=UTC)),
    ("2013-12-13", dt.date(2013, 12, 13)),
    ("12:40", dt.time(12, 40, tzinfo=UTC)),
])
def test_value_decoding_matches_pvl(text, expected):
    label = odl.loads(f"KEY = {text}\r\nEND\r\n")
    assert label["KEY"] == expected
    assert type(label["KEY"]) is type(expected)
    assert normalize(label) == normalize(pvl.loads(f"KEY = {text}\r\nEND\r\n"))


def test_structure_repeated_objects_pointers_namespaces():
    text = """PDS_VERSION_ID = PDS3
/* comment */
^IMAGE = 23
MSL:ACTIVE_FLIGHT_STRING_ID = B
GROUP = ROVER_COORDINATE_SYSTEM
  ORIGIN_OFFSET_VECTOR = (1.0, 2.0, 3.0)
END_GROUP = ROVER_COORDINATE_SYSTEM
OBJECT = IMAGE
  LINES = 2
END_OBJECT = IMAGE
OBJECT = IMAGE
  LINES = 3
END_OBJECT
END
binary \x00\xff garbage after END"""
    label = odl.loads(text)
    assert label["^IMAGE"] == 23
    assert label["MSL:ACTIVE_FLIGHT_STRING_ID"] == "B"
    assert label["ROVER_COORDINATE_SYSTEM"].kind == "GROUP"
    assert label["IMAGE"]["LINES"] == 2  # first of the repeated objects
    assert [o["LINES"] for o in label.getall("IMAGE")] == [2, 3]
    assert all(o.kind == "OBJECT" for o in label.getall("IMAGE"))
    assert list(label) == ["PDS_VERSION_ID", "^IMAGE", "MSL:ACTIVE_FLIGHT_STRING_ID",
                           "ROVER_COORDINATE_SYSTEM", "IMAGE"]
    assert len(label.pairs()) == 6


@pytest.mark.parametrize("text, problem, line", [
    ('A = "open\nB = 2\nEND', "unterminated quoted string", 1),
    ("A = 1\nB 2\nEND", "expected '='", 2),
    ("A = 1\nGROUP = G\n X = 1\nEND_OBJECT = G\nEND", "END_OBJECT does not close G", 4),
    ("GROUP = G\n X = 1\n", "missing END_GROUP for G", 3),
    ("A = (1, 2\nEND", "expected ',' or ')'", 2),
    ("A = 1 <m\nEND", "unterminated unit", 1),
    ("A = [1]\nEND", "unexpected character '['", 1),
    ("A = /* never closed\nEND", "unterminated comment", 1),
    ("", "empty label", 1),
])
def test_syntax_errors_name_line(text, problem, line):
    with pytest.raises(LabelSyntaxError) as info:
        odl.loads(text, source="T.LBL")
    assert problem in info.value.problem
    assert info.value.line == line
    assert info.value.path == "T.LBL"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AB_=(){},;<>\"'#/*-+.0123456789 \n\tEND")),
               max_size=80))
def test_garbage_raises_only_product_errors(text):
    try:
        odl.loads(text)
    except ProductError:
        pass


def test_dumps_round_trips_through_pvl_and_ours():
    label = Label()
    label.append("ODL_VERSION_ID", "ODL3")
    label.append("^IMAGE", ("X.IMG", Quantity(12345, "BYTES")))
    label.append("NAME", "A string with 'single' quotes")
    label.append("N_A", "N/A")
    label.append("FLAG", "TRUE")
    label.append("START_TIME", dt.datetime(2013, 9, 2, 12, 40, 4, 754000, tzinfo=UTC))
    group = Label(kind="GROUP")
    group.append("V", (1e-05, -0.5, 3.0))
    group.append("EXPOSURE_DURATION", Quantity(389.12, "ms"))
    group.append("S", frozenset({"A"}))
    label.append("G", group)
    obj = Label(kind="OBJECT")
    obj.append("LINES", 2)
    label.append("IMAGE", obj)
    text = odl.dumps(label)
    assert odl.loads(text) == label
    assert normalize(pvl.loads(text)) == normalize(label)


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_LABELS)
def test_agrees_with_pvl_on_real_labels(realdata, name):
    # truth: pvl.loads (planetarypy's reference ODL reader) on the same text
    text = (realdata / name).read_bytes()[:200_000].decode("latin-1")
    label, end = odl.parse(text, source=name)
    assert text[:end].rstrip().endswith("END")
    assert normalize(label) == normalize(pvl.loads(text[:end]))
    assert normalize(odl.loads(odl.dumps(label))) == normalize(label)
    assert normalize(pvl.loads(odl.dumps(label))) == normalize(label)
