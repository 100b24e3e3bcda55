"""enformer_tf: Enformer (Avsec et al. 2021) in TensorFlow / tf-keras."""
from setuptools import find_namespace_packages, setup

setup(
    name='enformer_tf',
    version='0.1.0',
    description=('Enformer as a tf-keras model: training with tf.distribute, '
                 'SavedModel export for TF Serving, genomics tools.'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    # Namespace packages so that the data-only folders (enformer_tf/gin/*)
    # are packages too: setuptools otherwise warns that their .gin files are
    # data outside any package, and will stop shipping them.
    packages=find_namespace_packages(
        include=['enformer_tf', 'enformer_tf.*'], exclude=['*.__pycache__']),
    include_package_data=True,
    package_data={'enformer_tf.gin': ['**/*.gin']},
    install_requires=[
        'tensorflow>=2.21,<2.22',
        'tf-keras>=2.21,<2.22',
        'gin-config>=0.5,<0.6',
        'numpy>=1.26',
        'kipoiseq>=0.7.1,<0.8',
        'pyfaidx>=0.8',
        'pyBigWig>=0.3.22',
        'tqdm>=4.60',
        'h5py>=3.8',
        'matplotlib>=3.7',
        # Gene annotations (GTF/GFF3): already installed with kipoiseq.
        'pyranges>=0.1.7',
        # Correlations of the gene evaluation (Pearson, Spearman); connected
        # components of the two-species homology graph.
        'scipy>=1.10',
        # Variant-score scalers and PCA, the paper's classifiers (random
        # forest, Lasso) and auPRC / auROC: kept code, not hand-written.
        'scikit-learn>=1.5',
        'tensorflow-serving-api>=2.21,<2.22',
    ],
    extras_require={
        # Beam too, so that the suite runs the pipeline's tests (it would
        # skip them without it).
        'test': ['pytest>=7,<9.2', 'pytest-xdist>=3', 'hypothesis>=6.80',
                 'tensorflow-hub>=0.16', 'apache-beam>=2.77,<2.78'],
        # enformer-pipeline: genome-scale jobs on Apache Beam (optional).
        'beam': ['apache-beam>=2.77,<2.78'],
    },
    entry_points={
        'console_scripts': [
            f'enformer-{name.replace("_", "-")}=enformer_tf.cli.{name}:main'
            for name in ('demo', 'synthetic', 'make_data', 'train', 'export',
                         'convert', 'predict', 'score_variants', 'contrib',
                         'predict_genes', 'evaluate_genes', 'split_homology',
                         'extend_records', 'fit_variant_normalizer',
                         'variant_benchmark', 'prioritize_enhancers', 'embed',
                         'pipeline')
        ],
    },
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Bio-Informatics',
    ],
)
