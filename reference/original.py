# The original program, verbatim from the Chinese blog post "练习利用LSTM实现手写数字分类任务"
# ("Practice: handwritten digit classification with an LSTM"), comments translated; quoted here
# as the object of study and test oracle (see LICENSE). One change: the post's `import
# input_data` is TF's tutorial module of that name, imported here by its full path. tests/test_acceptance.py runs this file (seeded by two added
# lines) as the oracle that `tf1-lstm train` must match line for line. Run it from data/, so that
# 'MNIST_data/' is the committed copy.
import tensorflow as tf
import numpy as np
from tensorflow.contrib.layers import fully_connected

from tensorflow.examples.tutorials.mnist import input_data
mnist = input_data.read_data_sets('MNIST_data/',one_hot = True)
#one_hot = True: one-hot labels, e.g. [0,0,0,1,0,0,0,0,0,0] means class 3

n_inputs  = 28  #number of input neurons (pixels per row)
n_steps   = 28  #sequence length (rows)
n_neurons = 150 #units in the LSTM's hidden and output layers
n_outputs = 10  #classes: MNIST is a 10-way task

learning_rate = 0.01 #the optimizer's learning rate

X = tf.placeholder(tf.float32,[None,n_steps,n_inputs])
Y_labels = tf.placeholder(tf.int32,[None,n_outputs])

basic_cell = tf.contrib.rnn.BasicLSTMCell(n_neurons,forget_bias = 1.0, state_is_tuple = True)
#one LSTM layer: units per cell, forget bias, (c, h) state tuple

outneurons, states = tf.nn.dynamic_rnn(basic_cell,X,dtype = tf.float32)
#outneurons is the output sequence

logits = fully_connected(tf.transpose(outneurons,perm = [1,0,2])[-1], n_outputs,activation_fn = None)
#outneurons is [batch_size, n_steps, n_neurons]; swap the first two axes and take [-1] to get the
#last step's output for the whole batch, then one fully connected layer gives the logits

cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels = Y_labels,logits = logits)
loss = tf.reduce_mean(cross_entropy)
#softmax cross-entropy against the labels, averaged over the batch

optimizer = tf.train.AdamOptimizer(learning_rate = learning_rate)
trainop = optimizer.minimize(loss)
#an optimizer that minimises the loss

correct = tf.equal(tf.argmax(logits,1),tf.argmax(Y_labels,1))
#accuracy

accuracy = tf.reduce_mean(tf.cast(correct,tf.float32))

batch_size = 64
init = tf.global_variables_initializer()
with tf.Session() as sess:
    init.run()
    for i in range(10000):
        x_batch, y_batch = mnist.train.next_batch(batch_size)
        x_batch = x_batch.reshape([-1,n_steps,n_inputs])
        sess.run(trainop,feed_dict = {X : x_batch,Y_labels : y_batch})
        if i % 200 == 0:
            print('train accuracy =',sess.run(accuracy,feed_dict = {X : x_batch,Y_labels : y_batch}))
    X_test = mnist.test.images.reshape((-1,n_steps,n_inputs))
    Y_test = mnist.test.labels
    print('test accuracy =',sess.run(accuracy,feed_dict = {X : X_test,Y_labels : Y_test}))
