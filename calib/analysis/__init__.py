"""Room analysis: pure functions from impulse responses to figures (data in, data out).

Modules (import what you need; this package imports nothing eagerly):

- :mod:`calib.analysis.response`     FFT response, windowing/FDW, group delay, min/excess phase,
                                     step response, spatial averaging
- :mod:`calib.analysis.smoothing`    fractional-octave (1/1-1/48), variable, psychoacoustic, ERB
- :mod:`calib.analysis.bands`        IEC 61260-1 band centres, band filters, band levels
- :mod:`calib.analysis.decay`        Schroeder integration, Lundeby, EDT/T20/T30/C50/C80/D50/Ts
- :mod:`calib.analysis.reflections`  ETC, early reflections, image-source surface attribution
- :mod:`calib.analysis.modes`        mode detection, Rayleigh prediction, Schroeder frequency,
                                     Bolt / Bonello
- :mod:`calib.analysis.timefreq`     waterfall (CSD) and spectrogram data
- :mod:`calib.analysis.distortion`   harmonic distortion vs frequency and THD from harmonic IRs
- :mod:`calib.analysis.noise`        background-noise octave spectrum and NR rating
- :mod:`calib.analysis.matching`     channel-pair level, response, arrival time and polarity
- :mod:`calib.analysis.compliance`   EBU Tech 3276 / BS.1116 checks against a TOML limit table
- :mod:`calib.analysis.room`         ``analyze_room`` → :class:`calib.analysis.types.RoomAnalysis`
- :mod:`calib.analysis.seats`        seat-averaged response (RMS / vector / dB) and decay
- :mod:`calib.analysis.lundeby`      Lundeby's noise crosspoint and tail compensation
- :mod:`calib.analysis.physics`      speed of sound, volume, Schroeder frequency, mode count
- :mod:`calib.analysis.limits`       the validated limit table (``calib/data/compliance_limits.toml``)
- :mod:`calib.analysis.types`        result dataclasses with ``to_dict()``
"""
