"""Programs: the ways a job's params become work for the executors.

IBM's ``program_id`` names what a job asks for: ``sampler`` and ``estimator`` (the V2
primitives), ``executor`` (a QuantumProgram, what the client-side primitives send) and
``noise-learner`` (v2 and v3). A program is not a simulator of its own: it turns params into
tasks that the executor plugins run, and their answers into the result IBM returns.
"""
