"""Program material: loudness (BS.1770), true peak, clicks and dropouts, long-term spectra,
platform and cassette translation, studio room fingerprints and mix correction.
Imports ``calib`` only."""
