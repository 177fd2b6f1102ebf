//! The deploy pipeline, written once: plans as data and a runner that executes them against Docker through a transport.
