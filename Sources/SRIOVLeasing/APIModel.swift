// The lease, its request and the other wire values are the API model's (SRIOVAPI); the engine's
// users get them with the engine.
@_exported import SRIOVAPI
