"""Feature extraction: handcrafted radiomics (PyRadiomics) and deep features (torch + MONAI), cached."""
