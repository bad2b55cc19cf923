from django.db import models


class RiskTier(models.TextChoices):
    """EU AI Act risk tiers."""

    MINIMAL = "minimal", "Minimal"
    LIMITED = "limited", "Limited"
    HIGH = "high", "High"
    UNACCEPTABLE = "unacceptable", "Unacceptable"


class LifecycleStatus(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    VALIDATION = "validation", "Validation"
    PRODUCTION = "production", "Production"
    RETIRED = "retired", "Retired"


class ModelTask(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"
    RANKING = "ranking", "Ranking"
    CLUSTERING = "clustering", "Clustering"
    FORECASTING = "forecasting", "Forecasting"
    GENERATION = "generation", "Generation"
    OTHER = "other", "Other"


class ArtifactFormat(models.TextChoices):
    """Serialization detected from an artifact's bytes (CONTRACT.md names; never reuse a name)."""

    PICKLE = "pickle", "Pickle"
    JOBLIB = "joblib", "joblib"
    PYTORCH_ZIP = "pytorch-zip", "PyTorch zip"
    PYTORCH_LEGACY = "pytorch-legacy", "PyTorch legacy"
    NUMPY = "numpy", "NumPy .npy"
    NUMPY_NPZ = "numpy-npz", "NumPy .npz"
    SAFETENSORS = "safetensors", "safetensors"
    ONNX = "onnx", "ONNX"
    KERAS = "keras", "Keras"
    HDF5 = "hdf5", "HDF5"
    ZIP = "zip", "Zip archive"
    GZIP = "gzip", "gzip"
    BZ2 = "bz2", "bzip2"
    XZ = "xz", "xz"
    UNKNOWN = "unknown", "Unknown"


class Framework(models.TextChoices):
    SCIKIT_LEARN = "scikit-learn", "scikit-learn"
    PYTORCH = "pytorch", "PyTorch"
    TENSORFLOW = "tensorflow", "TensorFlow / Keras"
    XGBOOST = "xgboost", "XGBoost"
    LIGHTGBM = "lightgbm", "LightGBM"
    ONNX = "onnx", "ONNX Runtime"
    OTHER = "other", "Other"


class LineageRole(models.TextChoices):
    TRAINING = "training", "Training"
    VALIDATION = "validation", "Validation"
    EVALUATION = "evaluation", "Evaluation"
    HOLDOUT = "holdout", "Holdout"


class DatasetSource(models.TextChoices):
    INTERNAL = "internal", "Internal"
    VENDOR = "vendor", "Vendor"
    PUBLIC = "public", "Public"
    CROWDSOURCED = "crowdsourced", "Crowdsourced"
    SYNTHETIC = "synthetic", "Synthetic"
    SCRAPED = "scraped", "Scraped from the web"


class ColumnType(models.TextChoices):
    INTEGER = "integer", "Integer"
    FLOAT = "float", "Float"
    BOOLEAN = "boolean", "Boolean"
    DATETIME = "datetime", "Date/time"
    STRING = "string", "String"
    EMPTY = "empty", "Empty"


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class Exposure(models.TextChoices):
    INTERNAL = "internal", "Internal"
    PARTNER = "partner", "Partner"
    PUBLIC = "public", "Public"


class OutputGranularity(models.TextChoices):
    LABEL = "label", "Label only"
    ROUNDED_SCORES = "rounded_scores", "Rounded scores"
    FULL_SCORES = "full_scores", "Full scores"
