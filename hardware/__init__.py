"""Audio I/O backends: PortAudio (sounddevice), the JACK virtual room, the simulated room,
and recordings made elsewhere.  Imports ``calib``; ``sounddevice`` is imported lazily in
exactly one module (:mod:`hardware.portaudio`)."""
