"""The executor program's decoding, checks and result document, without a server."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin
from qiskit_ibm_runtime.decoders.executor.decoder import ExecutorResultDecoder
from qiskit_ibm_runtime.decoders.executor_sampler.decoder import ClientSideSamplerResultDecoder
from qiskit_ibm_runtime.quantum_program import QuantumProgram
from qiskit_runtime_server.errors import InvalidRequest
from qiskit_runtime_server.programs.quantum_program import (
    decode_program,
    result_document,
    sample_items,
)
from qiskit_runtime_server.testing.contract import twirled_bell
from qiskit_runtime_server.testing.jobs import encode_quantum_program
from samplomatic import Twirl, build


def swept() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(Parameter("a"), 0)
    circuit.rz(Parameter("b"), 1)
    circuit.measure_all()
    return circuit


@pytest.fixture(scope="module")
def params() -> dict[str, Any]:
    template, samplex = twirled_bell()
    program = QuantumProgram(shots=7, passthrough_data={"mine": [1, "two", {"three": 3.0}]})
    program.append_circuit_item(swept(), circuit_arguments=np.zeros((2, 3, 2)))
    program.append_samplex_item(template, samplex=samplex, shape=(5,))
    return encode_quantum_program(program)


def test_decoding_gives_shapes_executions_and_circuits(params) -> None:
    job = decode_program(copy.deepcopy(params))
    assert [item.shape for item in job.items] == [(2, 3), (5,)]
    assert [item.is_samplex for item in job.items] == [False, True]
    assert job.executions == 7 * (6 + 5)
    assert job.num_circuits == 11
    assert job.ignored_options == ()
    assert job.passthrough_data == params["quantum_program"]["passthrough_data"]


def test_options_a_simulator_cannot_act_on_are_listed(params) -> None:
    spoilt = copy.deepcopy(params)
    spoilt["options"].update(
        init_qubits=False, rep_delay=0.0001, scheduler_timing=True, experimental={"x": 1}
    )
    job = decode_program(spoilt)
    assert job.ignored_options == ("init_qubits", "rep_delay", "scheduler_timing", "experimental.x")


def _set(path: str, value: Any) -> Any:
    def spoil(params: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = params
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return spoil


def _wrong_arguments(params: dict[str, Any]) -> None:
    from ibm_quantum_schemas.common import F64CompressedTensorModel

    arguments = F64CompressedTensorModel.from_numpy(np.zeros((2, 3)))
    params["quantum_program"]["items"][0]["circuit_arguments"] = arguments.model_dump(mode="json")


def _infinite_arguments(params: dict[str, Any]) -> None:
    program = QuantumProgram(shots=1)
    program.append_circuit_item(swept(), circuit_arguments=np.array([[np.inf, 0.0]]))
    params["quantum_program"] = encode_quantum_program(program)["quantum_program"]


def _one_circuit_too_few(params: dict[str, Any]) -> None:
    params["quantum_program"]["items"].append(params["quantum_program"]["items"][0])


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_set("schema_version", "v1.1"), "schema_version 'v2.0'"),
        (_set("quantum_program.shots", 0), "quantum_program.shots"),
        (_set("quantum_program.meas_level", "kerneled"), "only 'classified'"),
        (_set("quantum_program.circuits.qpy_version", 1000), "encoded QPY version is 18"),
        (_set("quantum_program.circuits.b64_data", "bm90IHFweQ=="), "could not be decoded"),
        (_set("quantum_program.items.1.samplex.samplex_json", "{}"), "ssv of the encoded"),
        (_wrong_arguments, "last axis of 'circuit_arguments' to have size 2"),
        (_infinite_arguments, "must be finite"),
        (_one_circuit_too_few, "exactly one circuit for every program item"),
    ],
)
def test_bad_params_are_refused_with_the_reason(params, spoil, message) -> None:
    spoilt = copy.deepcopy(params)
    spoil(spoilt)
    with pytest.raises(InvalidRequest, match=message):
        decode_program(spoilt)


def test_not_an_object() -> None:
    with pytest.raises(InvalidRequest, match="must be an object"):
        decode_program([1, 2])


def test_samplex_items_are_sampled_per_element_of_their_shape(params) -> None:
    job = decode_program(copy.deepcopy(params))
    sampled = sample_items(job, np.random.default_rng(1))
    circuit_item, samplex_item = sampled
    assert circuit_item.pub.shape == (2, 3)
    assert circuit_item.pub.shots == 7
    assert circuit_item.samplex_outputs == {}
    assert samplex_item.pub.shape == (5,)
    assert samplex_item.pub.parameter_values.shape == (5,)
    assert set(samplex_item.samplex_outputs) == {"measurement_flips.c"}
    assert samplex_item.samplex_outputs["measurement_flips.c"].shape == (5, 1, 2)
    # Five randomizations: five different twirls.
    values = samplex_item.pub.parameter_values.as_array()
    assert len({row.tobytes() for row in values}) == 5


def test_the_result_document_decodes_in_the_client(params) -> None:
    job = decode_program(copy.deepcopy(params))
    sampled = sample_items(job, np.random.default_rng(2))
    rng = np.random.default_rng(3)
    pub_results = []
    for item in sampled:
        registers = {
            register.name: BitArray.from_bool_array(
                rng.integers(0, 2, (*item.pub.shape, 7, register.size)).astype(bool),
                order="little",
            )
            for register in item.pub.circuit.cregs
        }
        pub_results.append(
            SamplerPubResult(DataBin(**registers, shape=item.pub.shape), metadata={"shots": 7})
        )
    result = PrimitiveResult(pub_results, metadata={})
    document = result_document(job, sampled, result)
    import json

    text = json.dumps(document)
    decoded = ExecutorResultDecoder.decode(text)
    assert decoded[0]["meas"].shape == (2, 3, 7, 2)
    assert decoded[1]["c"].shape == (5, 7, 2)
    assert decoded[1]["measurement_flips.c"].shape == (5, 1, 2)
    for item, pub_result in zip(decoded, result, strict=True):
        for name, bits in pub_result.data.items():
            assert np.array_equal(item[name], bits.to_bool_array(order="little"))
    assert decoded.passthrough_data == {"mine": [1, "two", {"three": 3.0}]}
    spans = document["metadata"]["chunk_timing"]
    assert [part["size"] for part in spans[0]["parts"]] == [6, 5]


def test_a_sampler_semantic_role_reaches_the_post_processor() -> None:
    from qiskit_ibm_runtime.executor_sampler.prepare import prepare
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    from qiskit_ibm_runtime.options_models.sampler import SamplerOptions
    from qiskit_ibm_runtime.quantum_program.params_converters import (
        QUANTUM_PROGRAM_PARAMS_CONVERTERS,
    )

    circuit = QuantumCircuit(1)
    circuit.x(0)
    circuit.measure_all()
    program, options = prepare([circuit], SamplerOptions(), 9, backend=FakeManilaV2())
    program._semantic_role = "sampler_v2"
    params = QUANTUM_PROGRAM_PARAMS_CONVERTERS["v2.0"].encoder(program, options)
    job = decode_program(params.model_dump(mode="json"))
    assert job.semantic_role == "sampler_v2"
    sampled = sample_items(job)
    bits = BitArray.from_bool_array(np.ones((9, 1), dtype=bool), order="little")
    result = PrimitiveResult([SamplerPubResult(DataBin(meas=bits, shape=()))], metadata={})
    import json

    text = json.dumps(result_document(job, sampled, result))
    sampler_result = ClientSideSamplerResultDecoder.decode(ExecutorResultDecoder.decode(text))
    assert sampler_result[0].data.meas.get_counts() == {"1": 9}


def _cyclic_samplex(params: dict[str, Any]) -> None:
    import json

    samplex = params["quantum_program"]["items"][1]["samplex"]
    graph = json.loads(samplex["samplex_json"])
    graph["links"].append({"source": 2, "target": 1, "id": 99, "data": None})
    samplex["samplex_json"] = json.dumps(graph)


def _nan_samplex_argument(params: dict[str, Any]) -> None:
    circuit = QuantumCircuit(2, 2)
    circuit.rx(Parameter("x"), 0)
    with circuit.box([Twirl()]):
        circuit.cx(0, 1)
    with circuit.box([Twirl()]):
        circuit.measure([0, 1], [0, 1])
    template, samplex = build(circuit)
    program = QuantumProgram(shots=3)
    program.append_samplex_item(
        template, samplex=samplex, samplex_arguments={"parameter_values": np.array([np.nan])}
    )
    params["quantum_program"] = encode_quantum_program(program)["quantum_program"]


def _register_named_like_an_output(params: dict[str, Any]) -> None:
    from qiskit import ClassicalRegister

    circuit = QuantumCircuit(2)
    flips = ClassicalRegister(2, "c")
    extra = ClassicalRegister(1, "measurement_flips.c")
    circuit.add_register(flips)
    circuit.add_register(extra)
    with circuit.box([Twirl()]):
        circuit.cx(0, 1)
    with circuit.box([Twirl()]):
        circuit.measure([0, 1], flips)
    circuit.measure(0, extra[0])
    template, samplex = build(circuit)
    program = QuantumProgram(shots=3)
    program.append_samplex_item(template, samplex=samplex, shape=(2,))
    params["quantum_program"] = encode_quantum_program(program)["quantum_program"]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_cyclic_samplex, "the samplex cannot be used"),
        (_nan_samplex_argument, "'parameter_values' must hold finite numbers"),
        (_register_named_like_an_output, "have the names of samplex outputs"),
    ],
)
def test_samplex_items_that_would_fail_in_the_worker_are_refused(params, spoil, message) -> None:
    spoilt = copy.deepcopy(params)
    spoil(spoilt)
    with pytest.raises(InvalidRequest, match=message):
        decode_program(spoilt)


def test_unknown_fields_are_listed_not_lost(params) -> None:
    spoilt = copy.deepcopy(params)
    spoilt["options"]["foo"] = 3
    spoilt["quantum_program"]["items"][0]["bar"] = True
    spoilt["quantum_program"]["passthrough_data"]["free"] = {"as": "sent"}
    job = decode_program(spoilt)
    assert job.ignored_options == (
        "params.quantum_program.items.0.bar",
        "params.options.foo",
    )
