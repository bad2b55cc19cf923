"""Which globals a pickle may reference: an exact allowlist, and what is known to be dangerous.

Policy (see ``judge``):

* a global listed in ``SAFE_GLOBALS`` (exact ``module`` + ``qualified name`` pairs, named one
  by one, never whole modules) is fine;
* a global matching ``DANGEROUS_MODULES``/``DANGEROUS_GLOBALS``/``DANGEROUS_NAMES``, or whose
  dotted name walks through dunder attributes, is **critical**;
* anything else is **high**: we cannot vouch for code we have not listed.

Names are judged after the same Python 2 -> 3 renaming the unpickler applies
(``__builtin__`` -> ``builtins`` and so on), and also as written, so neither spelling hides.
Adding an entry here widens what the scanner accepts: add only callables whose construction
and ``__setstate__`` cannot run attacker-chosen code, and say why in the commit.
"""

from __future__ import annotations

from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from dataclasses import dataclass

__all__ = [
    "DANGEROUS_GLOBALS",
    "DANGEROUS_MODULES",
    "SAFE_GLOBALS",
    "Judgement",
    "judge",
]


def _names(groups: dict[str, tuple[str, ...]]) -> frozenset[tuple[str, str]]:
    """Expand ``{module: (name, ...)}`` into exact ``(module, name)`` pairs."""
    return frozenset((module, name) for module, names in groups.items() for name in names)


# fmt: off
# Declarative tables, kept compact on purpose (one module per line).
PYTHON_GLOBALS = _names(
    {
        # Plain containers and scalars; protocols 0-2 reference them for sets, bytes, etc.
        "builtins": (
            "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int",
            "list", "object", "range", "set", "slice", "str", "tuple",
        ),
        "__builtin__": (
            "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int",
            "list", "object", "set", "slice", "str", "tuple", "unicode", "long", "xrange",
        ),
        # copyreg._reconstructor(cls, base, state) only calls base.__new__/__init__, and cls
        # and base are globals judged on their own.
        "copyreg": ("_reconstructor",),
        "copy_reg": ("_reconstructor",),
        # How protocols 0-2 spell bytes: _codecs.encode(latin-1 text, "latin1").
        "_codecs": ("encode",),
        "collections": ("OrderedDict", "defaultdict", "deque", "Counter"),
        "datetime": ("date", "datetime", "time", "timedelta", "timezone"),
        "decimal": ("Decimal",),
        "fractions": ("Fraction",),
        "uuid": ("UUID", "SafeUUID"),
        "array": ("array", "_array_reconstructor"),
    }
)

NUMPY_GLOBALS = _names(
    {
        "numpy": (
            "ndarray", "dtype", "matrix", "bool_", "int8", "int16", "int32", "int64", "uint8",
            "uint16", "uint32", "uint64", "float16", "float32", "float64", "longdouble",
            "complex64", "complex128", "clongdouble", "str_", "bytes_", "object_", "void",
            "datetime64", "timedelta64", "intc", "uintc", "intp", "uintp", "half", "single",
            "double", "longlong", "ulonglong", "mean", "median", "sum", "max", "min", "std",
            "var", "average", "log1p", "expm1", "exp", "log", "sqrt", "abs", "absolute",
        ),
        "numpy.core.multiarray": ("_reconstruct", "scalar"),
        "numpy._core.multiarray": ("_reconstruct", "scalar"),
        "numpy.core.numeric": ("_frombuffer",),
        "numpy._core.numeric": ("_frombuffer",),
        "numpy.ma.core": ("MaskedArray", "_mareconstruct"),
        "numpy.dtypes": (
            "BoolDType", "Int8DType", "Int16DType", "Int32DType", "Int64DType", "UInt8DType",
            "UInt16DType", "UInt32DType", "UInt64DType", "Float16DType", "Float32DType",
            "Float64DType", "LongDoubleDType", "Complex64DType", "Complex128DType",
            "StrDType", "BytesDType", "ObjectDType", "VoidDType", "DateTime64DType",
            "TimeDelta64DType", "StringDType",
        ),
        "numpy.random._pickle": (
            "__randomstate_ctor", "__generator_ctor", "__bit_generator_ctor",
        ),
        "numpy.random.mtrand": ("RandomState",),
        "numpy.random._generator": ("Generator",),
        "numpy.random._mt19937": ("MT19937",),
        "numpy.random._pcg64": ("PCG64", "PCG64DXSM"),
        "numpy.random._philox": ("Philox",),
        "numpy.random._sfc64": ("SFC64",),
        "numpy.random.bit_generator": ("SeedSequence", "__pyx_unpickle_SeedSequence"),
        # joblib replaces arrays by this wrapper and writes the raw array bytes inline.
        "joblib.numpy_pickle": ("NumpyArrayWrapper",),
    }
)

SCIPY_GLOBALS = _names(
    {
        "scipy.sparse._csr": ("csr_matrix", "csr_array"),
        "scipy.sparse._csc": ("csc_matrix", "csc_array"),
        "scipy.sparse._coo": ("coo_matrix", "coo_array"),
        "scipy.sparse._bsr": ("bsr_matrix", "bsr_array"),
        "scipy.sparse._dia": ("dia_matrix", "dia_array"),
        "scipy.sparse._lil": ("lil_matrix", "lil_array"),
        "scipy.sparse._dok": ("dok_matrix", "dok_array"),
        "scipy.sparse.csr": ("csr_matrix",),
        "scipy.sparse.csc": ("csc_matrix",),
        "scipy.sparse.coo": ("coo_matrix",),
        "scipy.interpolate._bsplines": ("BSpline",),
        "scipy._lib.array_api_compat.numpy._aliases": ("asarray",),
    }
)

TORCH_STORAGES = (
    "DoubleStorage", "FloatStorage", "HalfStorage", "LongStorage", "IntStorage",
    "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage", "BFloat16Storage",
    "ComplexDoubleStorage", "ComplexFloatStorage", "QUInt8Storage", "QInt8Storage",
    "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage", "UntypedStorage",
)

TORCH_DTYPES = (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "uint8", "int8",
    "int16", "short", "int32", "int", "int64", "long", "bool", "complex32", "complex64",
    "cfloat", "complex128", "cdouble", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32",
    "uint64",
)

TORCH_GLOBALS = _names(
    {
        # What torch.load(weights_only=True) accepts for tensors, parameters and state dicts.
        "torch._utils": (
            "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
            "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor",
            "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
            "_rebuild_nested_tensor", "_rebuild_device_tensor_from_numpy",
            "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_cpu_tensor",
        ),
        "torch._tensor": ("_rebuild_from_type", "_rebuild_from_type_v2"),
        "torch.nn.parameter": ("Parameter", "UninitializedParameter", "Buffer"),
        "torch.serialization": ("_get_layout",),
        "torch.storage": ("TypedStorage", "UntypedStorage"),
        "torch": (
            *TORCH_STORAGES, *TORCH_DTYPES, "Size", "device", "Tensor", "strided",
            "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
            "_mkldnn", "contiguous_format", "channels_last", "channels_last_3d",
            "preserve_format", "per_tensor_affine", "per_channel_affine",
            "per_tensor_symmetric", "per_channel_symmetric",
            "per_channel_affine_float_qparams",
        ),
    }
)

SKLEARN_GLOBALS = _names(
    {
        "sklearn._loss._loss": (
            "CyAbsoluteError", "CyExponentialLoss", "CyHalfBinomialLoss", "CyHalfGammaLoss",
            "CyHalfMultinomialLoss", "CyHalfPoissonLoss", "CyHalfSquaredError", "CyHalfTweedieLoss",
            "CyHalfTweedieLossIdentity", "CyHuberLoss", "CyPinballLoss",
        ),
        "sklearn._loss.link": (
            "HalfLogitLink", "IdentityLink", "Interval", "LogLink", "LogitLink", "MultinomialLogit",
        ),
        "sklearn._loss.loss": (
            "AbsoluteError", "ExponentialLoss", "HalfBinomialLoss", "HalfGammaLoss",
            "HalfMultinomialLoss", "HalfPoissonLoss", "HalfSquaredError", "HalfTweedieLoss",
            "HalfTweedieLossIdentity", "HuberLoss", "PinballLoss",
        ),
        "sklearn.calibration": (
            "CalibratedClassifierCV", "_CalibratedClassifier", "_SigmoidCalibration",
            "_TemperatureScaling",
        ),
        "sklearn.cluster._affinity_propagation": ("AffinityPropagation",),
        "sklearn.cluster._agglomerative": ("AgglomerativeClustering", "FeatureAgglomeration"),
        "sklearn.cluster._bicluster": ("SpectralBiclustering", "SpectralCoclustering"),
        "sklearn.cluster._birch": ("Birch", "_CFNode", "_CFSubcluster"),
        "sklearn.cluster._bisect_k_means": ("BisectingKMeans", "_BisectingTree"),
        "sklearn.cluster._dbscan": ("DBSCAN",),
        "sklearn.cluster._hdbscan.hdbscan": ("HDBSCAN",),
        "sklearn.cluster._kmeans": ("KMeans", "MiniBatchKMeans", "_kmeans_single_lloyd"),
        "sklearn.cluster._mean_shift": ("MeanShift",),
        "sklearn.cluster._optics": ("OPTICS",),
        "sklearn.cluster._spectral": ("SpectralClustering",),
        "sklearn.compose._column_transformer": (
            "ColumnTransformer", "_RemainderColsList", "make_column_selector",
        ),
        "sklearn.compose._target": ("TransformedTargetRegressor",),
        "sklearn.covariance._elliptic_envelope": ("EllipticEnvelope",),
        "sklearn.covariance._empirical_covariance": ("EmpiricalCovariance",),
        "sklearn.covariance._graph_lasso": ("GraphicalLasso", "GraphicalLassoCV"),
        "sklearn.covariance._robust_covariance": ("MinCovDet",),
        "sklearn.covariance._shrunk_covariance": ("LedoitWolf", "OAS", "ShrunkCovariance"),
        "sklearn.cross_decomposition._pls": ("CCA", "PLSCanonical", "PLSRegression", "PLSSVD"),
        "sklearn.decomposition._dict_learning": (
            "DictionaryLearning", "MiniBatchDictionaryLearning", "SparseCoder",
        ),
        "sklearn.decomposition._factor_analysis": ("FactorAnalysis",),
        "sklearn.decomposition._fastica": ("FastICA",),
        "sklearn.decomposition._incremental_pca": ("IncrementalPCA",),
        "sklearn.decomposition._kernel_pca": ("KernelPCA",),
        "sklearn.decomposition._lda": ("LatentDirichletAllocation",),
        "sklearn.decomposition._nmf": ("MiniBatchNMF", "NMF"),
        "sklearn.decomposition._pca": ("PCA",),
        "sklearn.decomposition._sparse_pca": ("MiniBatchSparsePCA", "SparsePCA"),
        "sklearn.decomposition._truncated_svd": ("TruncatedSVD",),
        "sklearn.discriminant_analysis": (
            "LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis",
        ),
        "sklearn.dummy": ("DummyClassifier", "DummyRegressor"),
        "sklearn.ensemble._bagging": ("BaggingClassifier", "BaggingRegressor"),
        "sklearn.ensemble._forest": (
            "ExtraTreesClassifier", "ExtraTreesRegressor", "RandomForestClassifier",
            "RandomForestRegressor", "RandomTreesEmbedding",
        ),
        "sklearn.ensemble._gb": ("GradientBoostingClassifier", "GradientBoostingRegressor"),
        "sklearn.ensemble._hist_gradient_boosting.binning": ("_BinMapper",),
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting": (
            "HistGradientBoostingClassifier", "HistGradientBoostingRegressor",
        ),
        "sklearn.ensemble._hist_gradient_boosting.predictor": ("TreePredictor",),
        "sklearn.ensemble._iforest": ("IsolationForest",),
        "sklearn.ensemble._stacking": ("StackingClassifier", "StackingRegressor"),
        "sklearn.ensemble._voting": ("VotingClassifier", "VotingRegressor"),
        "sklearn.ensemble._weight_boosting": ("AdaBoostClassifier", "AdaBoostRegressor"),
        "sklearn.feature_extraction._dict_vectorizer": ("DictVectorizer",),
        "sklearn.feature_extraction._hash": ("FeatureHasher",),
        "sklearn.feature_extraction.image": ("PatchExtractor",),
        "sklearn.feature_extraction.text": (
            "CountVectorizer", "HashingVectorizer", "TfidfTransformer", "TfidfVectorizer",
        ),
        "sklearn.feature_selection._from_model": ("SelectFromModel",),
        "sklearn.feature_selection._rfe": ("RFE", "RFECV"),
        "sklearn.feature_selection._sequential": ("SequentialFeatureSelector",),
        "sklearn.feature_selection._univariate_selection": (
            "GenericUnivariateSelect", "SelectFdr", "SelectFpr", "SelectFwe", "SelectKBest",
            "SelectPercentile", "chi2", "f_classif", "f_regression", "mutual_info_classif",
            "mutual_info_regression",
        ),
        "sklearn.feature_selection._variance_threshold": ("VarianceThreshold",),
        "sklearn.frozen._frozen": ("FrozenEstimator",),
        "sklearn.gaussian_process._gpc": (
            "GaussianProcessClassifier", "_BinaryGaussianProcessClassifierLaplace",
        ),
        "sklearn.gaussian_process._gpr": ("GaussianProcessRegressor",),
        "sklearn.gaussian_process.kernels": (
            "CompoundKernel", "ConstantKernel", "DotProduct", "ExpSineSquared", "Exponentiation",
            "Hyperparameter", "Matern", "PairwiseKernel", "Product", "RBF", "RationalQuadratic",
            "Sum", "WhiteKernel",
        ),
        "sklearn.impute._base": ("MissingIndicator", "SimpleImputer"),
        "sklearn.impute._knn": ("KNNImputer",),
        "sklearn.isotonic": ("IsotonicRegression",),
        "sklearn.kernel_approximation": (
            "AdditiveChi2Sampler", "Nystroem", "PolynomialCountSketch", "RBFSampler",
            "SkewedChi2Sampler",
        ),
        "sklearn.kernel_ridge": ("KernelRidge",),
        "sklearn.linear_model._base": ("LinearRegression",),
        "sklearn.linear_model._bayes": ("ARDRegression", "BayesianRidge"),
        "sklearn.linear_model._coordinate_descent": (
            "ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "MultiTaskElasticNet",
            "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV",
        ),
        "sklearn.linear_model._glm.glm": (
            "GammaRegressor", "PoissonRegressor", "TweedieRegressor",
        ),
        "sklearn.linear_model._huber": ("HuberRegressor",),
        "sklearn.linear_model._least_angle": (
            "Lars", "LarsCV", "LassoLars", "LassoLarsCV", "LassoLarsIC",
        ),
        "sklearn.linear_model._logistic": ("LogisticRegression", "LogisticRegressionCV"),
        "sklearn.linear_model._omp": ("OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV"),
        "sklearn.linear_model._passive_aggressive": (
            "PassiveAggressiveClassifier", "PassiveAggressiveRegressor",
        ),
        "sklearn.linear_model._perceptron": ("Perceptron",),
        "sklearn.linear_model._quantile": ("QuantileRegressor",),
        "sklearn.linear_model._ransac": ("RANSACRegressor",),
        "sklearn.linear_model._ridge": (
            "Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV",
        ),
        "sklearn.linear_model._sgd_fast": (
            "EpsilonInsensitive", "Hinge", "Huber", "Log", "ModifiedHuber",
            "SquaredEpsilonInsensitive", "SquaredHinge", "SquaredLoss",
        ),
        "sklearn.linear_model._stochastic_gradient": (
            "SGDClassifier", "SGDOneClassSVM", "SGDRegressor",
        ),
        "sklearn.linear_model._theil_sen": ("TheilSenRegressor",),
        "sklearn.manifold._classical_mds": ("ClassicalMDS",),
        "sklearn.manifold._isomap": ("Isomap",),
        "sklearn.manifold._locally_linear": ("LocallyLinearEmbedding",),
        "sklearn.manifold._mds": ("MDS",),
        "sklearn.manifold._spectral_embedding": ("SpectralEmbedding",),
        "sklearn.manifold._t_sne": ("TSNE",),
        "sklearn.metrics._dist_metrics": (
            "BrayCurtisDistance32", "BrayCurtisDistance64", "CanberraDistance32",
            "CanberraDistance64", "ChebyshevDistance32", "ChebyshevDistance64", "DiceDistance32",
            "DiceDistance64", "DistanceMetric", "EuclideanDistance32", "EuclideanDistance64",
            "HammingDistance32", "HammingDistance64", "HaversineDistance32", "HaversineDistance64",
            "JaccardDistance32", "JaccardDistance64", "MahalanobisDistance32",
            "MahalanobisDistance64", "ManhattanDistance32", "ManhattanDistance64",
            "MatchingDistance32", "MatchingDistance64", "MinkowskiDistance32",
            "MinkowskiDistance64", "RogersTanimotoDistance32", "RogersTanimotoDistance64",
            "RussellRaoDistance32", "RussellRaoDistance64", "SEuclideanDistance32",
            "SEuclideanDistance64", "SokalMichenerDistance32", "SokalMichenerDistance64",
            "SokalSneathDistance32", "SokalSneathDistance64", "newObj",
        ),
        "sklearn.mixture._bayesian_mixture": ("BayesianGaussianMixture",),
        "sklearn.mixture._gaussian_mixture": ("GaussianMixture",),
        "sklearn.model_selection._classification_threshold": (
            "FixedThresholdClassifier", "TunedThresholdClassifierCV",
        ),
        "sklearn.model_selection._search": ("GridSearchCV", "RandomizedSearchCV"),
        "sklearn.multiclass": (
            "OneVsOneClassifier", "OneVsRestClassifier", "OutputCodeClassifier",
        ),
        "sklearn.multioutput": (
            "ClassifierChain", "MultiOutputClassifier", "MultiOutputRegressor", "RegressorChain",
        ),
        "sklearn.naive_bayes": (
            "BernoulliNB", "CategoricalNB", "ComplementNB", "GaussianNB", "MultinomialNB",
        ),
        "sklearn.neighbors._ball_tree": ("BallTree", "BallTree32", "BallTree64", "newObj"),
        "sklearn.neighbors._classification": ("KNeighborsClassifier", "RadiusNeighborsClassifier"),
        "sklearn.neighbors._graph": ("KNeighborsTransformer", "RadiusNeighborsTransformer"),
        "sklearn.neighbors._kd_tree": ("KDTree", "KDTree32", "KDTree64", "newObj"),
        "sklearn.neighbors._kde": ("KernelDensity",),
        "sklearn.neighbors._lof": ("LocalOutlierFactor",),
        "sklearn.neighbors._nca": ("NeighborhoodComponentsAnalysis",),
        "sklearn.neighbors._nearest_centroid": ("NearestCentroid",),
        "sklearn.neighbors._regression": ("KNeighborsRegressor", "RadiusNeighborsRegressor"),
        "sklearn.neighbors._unsupervised": ("NearestNeighbors",),
        "sklearn.neural_network._multilayer_perceptron": ("MLPClassifier", "MLPRegressor"),
        "sklearn.neural_network._rbm": ("BernoulliRBM",),
        "sklearn.neural_network._stochastic_optimizers": ("AdamOptimizer", "SGDOptimizer"),
        "sklearn.pipeline": ("FeatureUnion", "Pipeline"),
        "sklearn.preprocessing._data": (
            "Binarizer", "KernelCenterer", "MaxAbsScaler", "MinMaxScaler", "Normalizer",
            "PowerTransformer", "QuantileTransformer", "RobustScaler", "StandardScaler",
        ),
        "sklearn.preprocessing._discretization": ("KBinsDiscretizer",),
        "sklearn.preprocessing._encoders": ("OneHotEncoder", "OrdinalEncoder"),
        "sklearn.preprocessing._function_transformer": ("FunctionTransformer",),
        "sklearn.preprocessing._label": ("LabelBinarizer", "LabelEncoder", "MultiLabelBinarizer"),
        "sklearn.preprocessing._polynomial": ("PolynomialFeatures", "SplineTransformer"),
        "sklearn.preprocessing._target_encoder": ("TargetEncoder",),
        "sklearn.random_projection": ("GaussianRandomProjection", "SparseRandomProjection"),
        "sklearn.semi_supervised._label_propagation": ("LabelPropagation", "LabelSpreading"),
        "sklearn.semi_supervised._self_training": ("SelfTrainingClassifier",),
        "sklearn.svm._classes": (
            "LinearSVC", "LinearSVR", "NuSVC", "NuSVR", "OneClassSVM", "SVC", "SVR",
        ),
        "sklearn.tree._classes": (
            "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
            "ExtraTreeRegressor",
        ),
        "sklearn.tree._tree": ("Tree",),
        "sklearn.utils._bunch": ("Bunch",),
    }
)

SAFE_GLOBALS = PYTHON_GLOBALS | NUMPY_GLOBALS | SCIPY_GLOBALS | TORCH_GLOBALS | SKLEARN_GLOBALS
"""Exact (module, qualified name) pairs a benign model pickle may reference."""

# Categories of harm, used in finding titles.
PROCESS = "process spawning"
CODE = "code execution"
IMPORT = "module loading"
NETWORK = "network access"
FILES = "file system access"
DEBUGGER = "profiler, debugger or interpreter"
GADGET = "indirect call gadget"
NATIVE = "native code loading"
PICKLE = "nested deserialisation"
INTROSPECTION = "interpreter introspection"

DANGEROUS_MODULES: dict[str, str] = {
    # Process spawning.
    "os": PROCESS, "posix": PROCESS, "nt": PROCESS, "subprocess": PROCESS, "pty": PROCESS,
    "popen2": PROCESS, "commands": PROCESS, "_posixsubprocess": PROCESS,
    "multiprocessing": PROCESS, "_winapi": PROCESS, "asyncio": PROCESS, "signal": PROCESS,
    "webbrowser": PROCESS, "antigravity": PROCESS, "_osx_support": PROCESS,
    "_aix_support": PROCESS, "pydoc": PROCESS, "ensurepip": PROCESS, "venv": PROCESS,
    "pip": PROCESS, "distutils": PROCESS, "setuptools": PROCESS, "platform": PROCESS,
    "concurrent": PROCESS, "mailcap": PROCESS,
    # Code execution.
    "code": CODE, "codeop": CODE, "runpy": CODE, "timeit": CODE, "doctest": CODE,
    "idlelib": CODE, "types": CODE, "_thread": CODE, "threading": CODE, "lib2to3": CODE,
    "logging": CODE, "IPython": CODE, "jupyter_client": CODE, "numexpr": CODE,
    "numpy.testing": CODE, "numpy.f2py": CODE, "numpy.distutils": CODE,
    "torch.jit": CODE, "torch._dynamo": CODE, "torch._inductor": CODE, "torch.fx": CODE,
    "torch.utils.cpp_extension": CODE, "torch.package": CODE, "torch._jit_internal": CODE,
    "torch.utils.bottleneck": CODE, "torch.distributed": NETWORK, "torch.hub": NETWORK,
    "torch.multiprocessing": PROCESS, "tensorflow.python.ops.script_ops": CODE,
    # Module loading.
    "importlib": IMPORT, "imp": IMPORT, "pkgutil": IMPORT, "zipimport": IMPORT,
    "_imp": IMPORT, "_frozen_importlib": IMPORT, "_frozen_importlib_external": IMPORT,
    "site": IMPORT, "sys": IMPORT, "_bootlocale": IMPORT,
    # Native code.
    "ctypes": NATIVE, "_ctypes": NATIVE, "cffi": NATIVE, "numpy.ctypeslib": NATIVE,
    # Network.
    "socket": NETWORK, "_socket": NETWORK, "ssl": NETWORK, "_ssl": NETWORK, "http": NETWORK,
    "urllib": NETWORK, "urllib2": NETWORK, "urllib3": NETWORK, "httplib": NETWORK,
    "requests": NETWORK, "httpx": NETWORK, "aiohttp": NETWORK, "ftplib": NETWORK,
    "smtplib": NETWORK, "poplib": NETWORK, "imaplib": NETWORK, "nntplib": NETWORK,
    "telnetlib": NETWORK, "xmlrpc": NETWORK, "xmlrpclib": NETWORK, "socketserver": NETWORK,
    "SocketServer": NETWORK, "smtpd": NETWORK, "asynchat": NETWORK, "asyncore": NETWORK,
    "selectors": NETWORK, "select": NETWORK, "paramiko": NETWORK, "boto3": NETWORK,
    # File system.
    "shutil": FILES, "tempfile": FILES, "io": FILES, "_io": FILES, "pathlib": FILES,
    "fileinput": FILES, "zipfile": FILES, "tarfile": FILES, "sqlite3": FILES, "dbm": FILES,
    "glob": FILES, "filecmp": FILES, "linecache": FILES, "mmap": FILES,
    # Profilers, debuggers, tracers and interpreters from the standard library.
    "pdb": DEBUGGER, "bdb": DEBUGGER, "cProfile": DEBUGGER, "profile": DEBUGGER,
    "trace": DEBUGGER, "tracemalloc": DEBUGGER, "faulthandler": DEBUGGER, "pstats": DEBUGGER,
    "cgitb": DEBUGGER, "rlcompleter": DEBUGGER, "readline": DEBUGGER, "tkinter": DEBUGGER,
    "turtledemo": DEBUGGER, "test": DEBUGGER, "unittest": DEBUGGER,
    # Nested deserialisation: a second, unscanned payload.
    "pickle": PICKLE, "_pickle": PICKLE, "cPickle": PICKLE, "pickletools": PICKLE,
    "marshal": PICKLE, "shelve": PICKLE, "dill": PICKLE, "cloudpickle": PICKLE,
    "copyreg": PICKLE, "copy_reg": PICKLE, "_compat_pickle": PICKLE, "jsonpickle": PICKLE,
    "joblib": PICKLE, "torch.serialization": PICKLE, "torch.storage": PICKLE,
    "pandas.io": PICKLE, "numpy.lib.npyio": PICKLE, "numpy.lib._npyio_impl": PICKLE,
    "numpy.lib.format": PICKLE, "yaml": PICKLE,
    # Indirect calls: call a callable or attribute chosen elsewhere in the pickle.
    "operator": GADGET, "_operator": GADGET, "functools": GADGET, "_functools": GADGET,
    "itertools": GADGET, "contextlib": GADGET, "weakref": GADGET,
    # Introspection: reach any object from any other.
    "gc": INTROSPECTION, "inspect": INTROSPECTION, "ast": INTROSPECTION,
    "builtins.__dict__": INTROSPECTION, "__main__": INTROSPECTION,
}
"""Modules (and all their submodules) from which any global is critical."""

DANGEROUS_GLOBALS: dict[tuple[str, str], str] = {
    **{
        ("builtins", name): CODE
        for name in (
            "eval", "exec", "execfile", "compile", "__import__", "breakpoint", "input",
            "help", "exit", "quit", "reload", "apply", "globals", "locals", "vars",
            "__build_class__",
        )
    },
    **{("builtins", name): GADGET for name in ("getattr", "setattr", "delattr", "map", "filter")},
    ("builtins", "open"): FILES,
    ("builtins", "file"): FILES,
    ("builtins", "memoryview"): INTROSPECTION,
    ("builtins", "type"): CODE,
    ("builtins", "classmethod"): GADGET,
    ("builtins", "staticmethod"): GADGET,
    ("builtins", "property"): GADGET,
    ("builtins", "super"): GADGET,
    ("uuid", "_get_command_stdout"): PROCESS,
    ("uuid", "_popen"): PROCESS,
    ("codecs", "open"): FILES,
    ("numpy", "load"): PICKLE,
    ("numpy", "loads"): PICKLE,
    ("numpy", "fromfile"): FILES,
    ("numpy", "tofile"): FILES,
    ("numpy", "save"): FILES,
    ("numpy", "savez"): FILES,
    ("numpy", "savetxt"): FILES,
    ("numpy", "loadtxt"): FILES,
    ("numpy", "genfromtxt"): FILES,
    ("numpy", "memmap"): FILES,
    ("numpy", "frompyfunc"): GADGET,
    ("numpy", "vectorize"): GADGET,
    ("numpy", "apply_along_axis"): GADGET,
    ("numpy", "piecewise"): GADGET,
    ("torch", "load"): PICKLE,
    ("torch", "save"): FILES,
    ("torch", "from_file"): FILES,
    ("pandas", "read_pickle"): PICKLE,
    ("pandas", "eval"): CODE,
    ("keras.utils", "get_file"): NETWORK,
    ("tensorflow", "py_function"): CODE,
    ("tensorflow", "numpy_function"): CODE,
    ("tensorflow.io", "write_file"): FILES,
    ("tensorflow.io", "read_file"): FILES,
}
"""Specific callables known to be dangerous in otherwise mixed modules."""

DANGEROUS_NAMES = frozenset(
    (
        "system", "popen", "popen2", "popen3", "popen4", "Popen", "spawn", "spawnl",
        "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "posix_spawn", "fork",
        "forkpty", "execl", "execle", "execlp", "execv", "execve", "execvp", "execvpe",
        "call", "check_call", "check_output", "getoutput", "getstatusoutput", "run",
        "eval", "exec", "execfile", "compile", "__import__", "import_module", "load_module",
        "load_source", "load", "loads", "getattr", "setattr", "delattr", "urlopen",
        "urlretrieve", "remove", "unlink", "rmtree", "rmdir", "removedirs", "kill", "killpg",
        "runcode", "runsource", "runctx", "runcall", "run_path", "run_module", "interact",
        "pipepager", "tempfilepager", "write_file", "_run_pip", "create_connection",
        "create_subprocess_exec", "create_subprocess_shell", "open_connection",
        "start_new_thread", "breakpoint", "set_trace", "runstring", "execWrapper",
    )
)
"""Callable names that are dangerous whatever module they come from."""

DANGEROUS_ATTRIBUTES = frozenset(
    (
        "__globals__", "__builtins__", "__import__", "__code__", "__subclasses__",
        "__getattribute__", "__getattr__", "__class__", "__base__", "__bases__", "__mro__",
        "__dict__", "__reduce__", "__reduce_ex__", "__setstate__", "__init__", "__new__",
        "__call__", "__self__", "__func__", "__closure__", "__loader__", "__spec__",
        "f_globals", "f_locals", "f_back", "gi_frame", "tb_frame", "func_globals",
    )
)
"""Attributes that walk from a harmless object to arbitrary ones (dotted names, getattr)."""
# fmt: on


@dataclass(frozen=True)
class Judgement:
    """How a global is judged: ``safe``, ``dangerous`` (critical) or ``unlisted`` (high)."""

    verdict: str
    category: str
    name: str

    @property
    def severity(self) -> str:
        return {"safe": "info", "dangerous": "critical"}.get(self.verdict, "high")


def judge(module: str, name: str) -> Judgement:
    """Judge the global ``module.name`` as the unpickler would resolve it.

    ``name`` may be dotted (protocol 4 resolves ``a.b`` attribute by attribute).
    """
    spelled = f"{module}.{name}" if name else module
    candidates = [(module, name)]
    renamed = _renamed(module, name)
    if renamed != (module, name):
        candidates.append(renamed)
    if any(pair in SAFE_GLOBALS for pair in candidates):
        return Judgement("safe", "", spelled)  # exact pairs: no dotted trickery can match
    for mod, attr in candidates:
        category = _danger(mod, attr)
        if category:
            return Judgement("dangerous", category, spelled)
    return Judgement("unlisted", "unlisted global", spelled)


def _danger(module: str, name: str) -> str:
    """The harm category of ``module.name``, or "" when not known to be dangerous."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        category = DANGEROUS_MODULES.get(".".join(parts[:end]))
        if category:
            return category
    if (module, name) in DANGEROUS_GLOBALS:
        return DANGEROUS_GLOBALS[(module, name)]
    attrs = name.split(".") if name else []
    for depth in range(1, len(attrs) + 1):
        category = DANGEROUS_GLOBALS.get((module, ".".join(attrs[:depth])))
        if category:
            return category
    if any(attr in DANGEROUS_ATTRIBUTES for attr in attrs):
        return INTROSPECTION
    if any(attr in DANGEROUS_NAMES for attr in attrs):
        return CODE
    if not name and module in ("builtins", "__builtin__"):
        return CODE  # the builtins module itself: every callable in it
    return ""


def _renamed(module: str, name: str) -> tuple[str, str]:
    """Apply the unpickler's Python 2 compatibility renames (``fix_imports``)."""
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    if module in IMPORT_MAPPING:
        return IMPORT_MAPPING[module], name
    return module, name
