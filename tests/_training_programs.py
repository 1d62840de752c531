"""Two short trainings on the real MNIST, with their live displays on: ``MLP.fit(verbose=1)``
and the TFLearn notebook's network with ``show_metric=True``. The display tests run them on
pseudo-terminals, the notebook test as cells of a real notebook; both read the MNIST folder
from $MNISTMLP_DATA.
"""

MLP_SCRIPT = """
import os, mnistmlp
from mnistmlp.datasets import mnist
data = mnist.read_data_sets(os.environ["MNISTMLP_DATA"])
model = mnistmlp.MLP([784, 256, 10], seed=0, threads=1)
model.fit(data.train.images[:5000], data.train.labels[:5000], epochs=2, batch_size=1, verbose=1,
          validation_data=(data.validation.images, data.validation.labels))
"""

TFLEARN_SCRIPT = """
import os
import mnistmlp.tflearn as tflearn
from mnistmlp.tflearn.datasets import mnist
data = mnist.read_data_sets(os.environ["MNISTMLP_DATA"], one_hot=True)
tflearn.init_graph(num_cores=1, seed=0)
net = tflearn.input_data(shape=[None, 784])
net = tflearn.fully_connected(net, 100, activation='relu')
net = tflearn.fully_connected(net, 10, activation='softmax')
net = tflearn.regression(net, optimizer='sgd', loss='categorical_crossentropy')
model = tflearn.DNN(net)
model.fit(data.train.images[:20000], data.train.labels[:20000], n_epoch=2, batch_size=1,
          show_metric=True, validation_set=0.1)
"""
